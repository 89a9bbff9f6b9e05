package org.distillery.serve;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.testkit.TestRunContext;

/** A tiny random GPT-2 over the byte tokenizer (vocab 259, bos 257, eos 258, context 64) and HTTP helpers. */
public final class TestModels {

    public static final int VOCAB = 259;
    static final int CONTEXT = 64;

    private TestModels() {
    }

    public static LanguageModel model(NDManager m, long seed) {
        Map<String, Object> raw = TestRunContext.gpt2Config(VOCAB, 32, 2, 4, CONTEXT);
        raw.put("bos_token_id", 257L);
        raw.put("eos_token_id", 258L);
        raw.put("initializer_range", 0.5);
        return new HfModelService().create(ModelConfigs.fromMap(raw), seed, m);
    }

    /** log-softmax of a direct, unbatched forward pass: [n][vocab]. */
    static float[][] logProbs(LanguageModel model, NDManager m, int[] seq) {
        try (NDManager sm = m.newSubManager()) {
            long[] ids = new long[seq.length];
            for (int i = 0; i < seq.length; i++) {
                ids[i] = seq[i];
            }
            NDArray lp = model.forward(sm.create(ids, new Shape(1, seq.length)), ForwardOptions.inference()).logits()
                    .toType(DataType.FLOAT32, false).logSoftmax(-1);
            float[] flat = lp.toFloatArray();
            float[][] out = new float[seq.length][VOCAB];
            for (int t = 0; t < seq.length; t++) {
                System.arraycopy(flat, t * VOCAB, out[t], 0, VOCAB);
            }
            return out;
        }
    }

    /** Greedy continuation by repeated full forward passes (no cache, no batching). */
    static int[] greedy(LanguageModel model, NDManager m, int[] prompt, int n) {
        int[] seq = prompt.clone();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            float[][] lp = logProbs(model, m, seq);
            int best = BatchDecoder.argMax(lp[seq.length - 1], 0, VOCAB);
            out[i] = best;
            seq = java.util.Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
        }
        return out;
    }

    /**
     * A greedy continuation of {@code prompt} in which a printable ASCII character first appears at
     * token {@code at} (at least 2): a stop string that is certain to match there.
     *
     * @param prompt the prompt ids
     * @param tokens the greedy continuation
     * @param at index of the token that completes the stop string
     * @param stop the stop string (that character)
     * @param textBefore the text a server returns: everything before the stop string
     */
    record StopCase(int[] prompt, int[] tokens, int at, String stop, String textBefore) {
    }

    /** The first of {@code prompts} whose greedy continuation of {@code n} tokens gives a {@link StopCase}. */
    static StopCase stopCase(LanguageModel model, NDManager m, java.util.List<int[]> prompts, int n) {
        org.distillery.models.tokenizer.ByteTokenizer tok = new org.distillery.models.tokenizer.ByteTokenizer();
        for (int[] p : prompts) {
            int[] cont = greedy(model, m, p, n);
            for (int j = 2; j < n; j++) {
                if (cont[j] <= 32 || cont[j] >= 127) {
                    continue;
                }
                String upTo = tok.decode(java.util.Arrays.copyOf(cont, j + 1));
                String stop = String.valueOf((char) cont[j]);
                if (upTo.indexOf(stop) == upTo.length() - 1) {
                    return new StopCase(p, cont, j, stop, upTo.substring(0, upTo.length() - 1));
                }
            }
        }
        throw new AssertionError("no prompt of " + prompts.size() + " gives a printable character within " + n
                + " greedy tokens; widen the candidates");
    }

    record Resp(int status, String body, java.net.http.HttpHeaders headers) {
        JsonObject json() {
            return JsonParser.parseString(body).getAsJsonObject();
        }

        JsonObject error() {
            return json().getAsJsonObject("error");
        }
    }

    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    static Resp send(String method, String url, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).method(method,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Resp(r.statusCode(), r.body(), r.headers());
    }

    static int tokenId(String s) {
        if (!s.startsWith("token_id:")) {
            throw new AssertionError("not a token id: " + s);
        }
        return Integer.parseInt(s.substring("token_id:".length()));
    }
}
