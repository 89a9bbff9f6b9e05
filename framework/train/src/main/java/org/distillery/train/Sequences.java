package org.distillery.train;

import java.util.ArrayList;
import java.util.List;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.Tokenizer;

/**
 * How records become token sequences, the same for training, evaluation and generation: a
 * prompt/response pair is {@code [bos] prompt "\n" response eos} with the loss on the response
 * and eos; a chat record is its template up to the last assistant turn, then that turn; a text
 * record is all loss.
 */
public final class Sequences {

    /** The separator between prompt and response. */
    public static final String PROMPT_SUFFIX = "\n";

    /**
     * One tokenised record.
     *
     * @param ids all tokens
     * @param promptLength tokens before the first one the loss counts
     */
    public record Sequence(int[] ids, int promptLength) {
    }

    private Sequences() {
    }

    /** The prompt text the model continues, for generation. */
    public static String promptText(Example e, Tokenizer tok) {
        if (e.prompt() != null) {
            return e.prompt() + PROMPT_SUFFIX;
        }
        if (!e.messages().isEmpty()) {
            List<Tokenizer.ChatTurn> turns = new ArrayList<>();
            List<Example.Message> msgs = e.messages();
            int last = msgs.size() - 1;
            if (msgs.get(last).role().equals("assistant")) {
                last--;
            }
            for (int i = 0; i <= last; i++) {
                turns.add(new Tokenizer.ChatTurn(msgs.get(i).role(), msgs.get(i).content()));
            }
            return tok.applyChatTemplate(turns, true);
        }
        return "";
    }

    /** The reference response, or {@code null} for text records. */
    public static String responseText(Example e) {
        if (e.prompt() != null) {
            return e.response();
        }
        if (!e.messages().isEmpty()) {
            Example.Message last = e.messages().get(e.messages().size() - 1);
            return last.role().equals("assistant") ? last.content() : "";
        }
        return null;
    }

    /** Prompt ids, with bos when the tokenizer has one. */
    public static int[] promptIds(Example e, Tokenizer tok) {
        return concat(bos(tok), tok.encode(promptText(e, tok)));
    }

    /** Tokenises one record, truncated to {@code maxLength}. */
    public static Sequence encode(Example e, Tokenizer tok, int maxLength) {
        int[] ids;
        int promptLength;
        if (e.text() != null) {
            ids = concat(bos(tok), tok.encode(e.text()), new int[] {tok.eosId()});
            promptLength = bos(tok).length;
        } else {
            int[] prompt = promptIds(e, tok);
            ids = concat(prompt, tok.encode(responseText(e)), new int[] {tok.eosId()});
            promptLength = prompt.length;
        }
        if (ids.length > maxLength) {
            int[] cut = new int[maxLength];
            System.arraycopy(ids, 0, cut, 0, maxLength);
            ids = cut;
        }
        return new Sequence(ids, Math.min(promptLength, ids.length));
    }

    /** Builds a right-padded batch; position t predicts token t+1, counted when that token is past the prompt. */
    public static TokenBatch batch(List<Sequence> seqs, int padId, NDManager manager) {
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

    private static int[] bos(Tokenizer tok) {
        return tok.bosId().isPresent() ? new int[] {tok.bosId().getAsInt()} : new int[0];
    }

    private static int[] concat(int[]... parts) {
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
