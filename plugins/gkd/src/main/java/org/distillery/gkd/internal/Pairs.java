package org.distillery.gkd.internal;

import java.util.ArrayList;
import java.util.List;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.Tokenizer;

/**
 * Prompt/response records as token ids and right-padded batches, laid out exactly as the
 * built-in {@code data.dataset} sampler lays them out (the framework's sequence rules are not
 * visible to bundles): a prompt/response record is {@code [bos] prompt "\n" response eos}, a chat
 * record its template up to the last assistant turn then that turn, the loss on the response
 * tokens and eos, the whole cut to the maximum length.
 */
final class Pairs {

    /** Between prompt and response, as in the dataset sampler and the evaluator. */
    static final String PROMPT_SUFFIX = "\n";

    /**
     * One record's prompt and reference response ids.
     *
     * @param prompt prompt ids, bos first when the tokenizer has one
     * @param response reference response ids, eos last
     */
    record Pair(int[] prompt, int[] response) {
    }

    /**
     * One training sequence.
     *
     * @param ids prompt followed by response, at most the maximum length
     * @param promptLength tokens before the first one the loss counts
     */
    record Sequence(int[] ids, int promptLength) {
    }

    private Pairs() {
    }

    /**
     * The prompt and reference response of {@code e}, or {@code null} for a record with no prompt
     * (plain text), which on-policy sampling cannot continue.
     */
    static Pair encode(Example e, Tokenizer tok) {
        String promptText;
        String response;
        if (e.prompt() != null) {
            promptText = e.prompt() + PROMPT_SUFFIX;
            response = e.response() == null ? "" : e.response();
        } else if (!e.messages().isEmpty()) {
            List<Example.Message> msgs = e.messages();
            int last = msgs.size() - 1;
            response = "";
            if (msgs.get(last).role().equals("assistant")) {
                response = msgs.get(last).content();
                last--;
            }
            List<Tokenizer.ChatTurn> turns = new ArrayList<>();
            for (int i = 0; i <= last; i++) {
                turns.add(new Tokenizer.ChatTurn(msgs.get(i).role(), msgs.get(i).content()));
            }
            promptText = tok.applyChatTemplate(turns, true);
        } else {
            return null;
        }
        int[] bos = tok.bosId().isPresent() ? new int[] {tok.bosId().getAsInt()} : new int[0];
        return new Pair(concat(bos, tok.encode(promptText)), concat(tok.encode(response), new int[] {tok.eosId()}));
    }

    /** {@code prompt} followed by {@code response}, cut to {@code maxLength} tokens. */
    static Sequence sequence(int[] prompt, int[] response, int maxLength) {
        int[] ids = concat(prompt, response);
        if (ids.length > maxLength) {
            int[] cut = new int[maxLength];
            System.arraycopy(ids, 0, cut, 0, maxLength);
            ids = cut;
        }
        return new Sequence(ids, Math.min(prompt.length, ids.length));
    }

    /**
     * A right-padded batch: position t holds token t and predicts token t+1, counted when that
     * token is past the prompt.
     */
    static TokenBatch batch(List<Sequence> seqs, int padId, NDManager manager) {
        int b = seqs.size();
        int len = 1;
        for (Sequence s : seqs) {
            len = Math.max(len, s.ids().length - 1);
        }
        long[] input = new long[b * len];
        long[] targets = new long[b * len];
        float[] attention = new float[b * len];
        float[] loss = new float[b * len];
        int[] prompts = new int[b];
        for (int i = 0; i < b; i++) {
            int[] ids = seqs.get(i).ids();
            prompts[i] = seqs.get(i).promptLength();
            for (int t = 0; t < len; t++) {
                int k = i * len + t;
                if (t < ids.length - 1) {
                    input[k] = ids[t];
                    targets[k] = ids[t + 1];
                    attention[k] = 1;
                    loss[k] = t + 1 >= Math.max(1, prompts[i]) ? 1 : 0;
                } else {
                    input[k] = padId;
                    targets[k] = padId;
                }
            }
        }
        Shape shape = new Shape(b, len);
        return new TokenBatch(manager.create(input, shape), manager.create(attention, shape),
                manager.create(targets, shape), manager.create(loss, shape),
                manager.create(prompts).toType(DataType.INT32, false));
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int o = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }
}
