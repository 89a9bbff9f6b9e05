package org.distillery.kit.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.model.VisionInput;

/**
 * How records become tokens, the same for training, evaluation, generation, caching and serving:
 * <ul>
 *   <li>a prompt/response record is {@code [bos] prompt "\n" response eos}, the loss on the
 *       response and eos;</li>
 *   <li>a chat record is its template up to the last assistant turn (with the generation prompt),
 *       then that turn and eos; a chat that does not end with an assistant turn has an empty
 *       response;</li>
 *   <li>a text record is {@code [bos] text eos}, all of it loss, and has no prompt
 *       ({@link #hasPrompt} is false, {@link #promptText} is {@code ""}).</li>
 * </ul>
 * A sequence longer than the maximum length is cut at the end ({@link Truncation#KEEP_START}, as
 * training reads it), or keeps bos, the end of a long prompt and the start of the response
 * ({@link Truncation#KEEP_PROMPT_END}). Batches are right-padded: position t holds token t and
 * predicts token t+1, counted when that token is past the prompt.
 *
 * <p>Records with an image ({@link Example#image()}) need the model's {@link VisionInput}: the
 * {@link Example#IMAGE_PLACEHOLDER} in the prompt (in front of a pair's prompt when it has none:
 * {@code "<image>\n" + prompt}) becomes the image token repeated
 * {@link VisionInput#tokensPerImage()} times, as Hugging Face's LLaVA processors expand it; the
 * text around it is tokenised on its own. A cut that would split an image's tokens fails. A batch
 * of such records carries the images' pixel values and each row's image span
 * ({@link TokenBatch#pixelValues()}, {@link TokenBatch#imageSpans()}); text-only rows mix freely
 * with image rows.
 */
public final class Records {

    /** The separator between prompt and response. */
    public static final String PROMPT_SUFFIX = "\n";

    /** Where a sequence longer than the maximum length is cut. */
    public enum Truncation {
        /** Keep the first tokens (training, evaluation, caching). */
        KEEP_START,
        /**
         * Keep the response and the end of the prompt in the room the response leaves, at least one
         * prompt token, and bos when {@link #encode} put one there; a response longer than the
         * room is cut at its end.
         */
        KEEP_PROMPT_END
    }

    /**
     * One tokenised record.
     *
     * @param ids all tokens
     * @param promptLength tokens before the first one the loss counts
     * @param image the record's image file when {@code ids} hold its tokens, else {@code null}
     */
    public record Encoded(int[] ids, int promptLength, String image) {

        /** A text-only sequence. */
        public Encoded(int[] ids, int promptLength) {
            this(ids, promptLength, null);
        }

        /** The prompt part of {@link #ids()}. */
        public int[] prompt() {
            return Arrays.copyOf(ids, promptLength);
        }

        /** The response part of {@link #ids()} (eos included when it fit). */
        public int[] response() {
            return Arrays.copyOfRange(ids, promptLength, ids.length);
        }
    }

    private Records() {
    }

    /** True for prompt/response and chat records, false for text records. */
    public static boolean hasPrompt(Example e) {
        return e.text() == null && (e.prompt() != null || !e.messages().isEmpty());
    }

    /**
     * True when the record has a reference response to compare a model's answer with: a pair with
     * a response, or a chat whose last turn is the assistant's.
     */
    public static boolean hasReference(Example e) {
        if (e.text() != null) {
            return false;
        }
        if (e.prompt() != null) {
            return e.response() != null;
        }
        return !e.messages().isEmpty() && e.messages().get(e.messages().size() - 1).role().equals("assistant");
    }

    /** The prompt text the model continues; {@code ""} for a record without a prompt (text). */
    public static String promptText(Example e, Tokenizer tok) {
        if (e.text() != null) {
            return "";
        }
        if (e.prompt() != null) {
            boolean front = e.hasImage() && !e.prompt().contains(Example.IMAGE_PLACEHOLDER);
            return (front ? Example.IMAGE_PLACEHOLDER + "\n" : "") + e.prompt() + PROMPT_SUFFIX;
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

    /**
     * The reference response: a pair's response, a chat's last assistant turn, {@code ""} when the
     * record has none; a text record's text (all of it is what the model should produce).
     */
    public static String responseText(Example e) {
        if (e.text() != null) {
            return e.text();
        }
        if (e.prompt() != null) {
            return e.response() == null ? "" : e.response();
        }
        if (!e.messages().isEmpty()) {
            Example.Message last = e.messages().get(e.messages().size() - 1);
            return last.role().equals("assistant") ? last.content() : "";
        }
        return "";
    }

    /**
     * Prompt ids, with bos when the tokenizer has one.
     *
     * @throws IllegalArgumentException for a record with an image (it needs the model's {@link VisionInput})
     */
    public static int[] promptIds(Example e, Tokenizer tok) {
        return promptIds(e, tok, null);
    }

    /**
     * Prompt ids, with bos when the tokenizer has one, the record's image (if any) expanded into the
     * model's image tokens.
     *
     * @param vision the model's image input, or {@code null} for a text-only model
     * @throws IllegalArgumentException naming the record when it has an image and {@code vision} is {@code null}
     */
    public static int[] promptIds(Example e, Tokenizer tok, VisionInput vision) {
        String text = promptText(e, tok);
        if (!e.hasImage()) {
            return withBos(tok.encode(text), tok);
        }
        if (vision == null) {
            throw new IllegalArgumentException("record " + e.id() + " has an image (" + e.image()
                    + ") but the model has no vision tower");
        }
        int at = text.indexOf(Example.IMAGE_PLACEHOLDER);
        if (at < 0 || text.indexOf(Example.IMAGE_PLACEHOLDER, at + 1) >= 0) {
            throw new IllegalArgumentException("record " + e.id() + " must mark its one image with exactly one "
                    + Example.IMAGE_PLACEHOLDER + " in its prompt");
        }
        int[] image = new int[vision.tokensPerImage()];
        Arrays.fill(image, vision.imageTokenId());
        return withBos(concat(tok.encode(text.substring(0, at)), image,
                tok.encode(text.substring(at + Example.IMAGE_PLACEHOLDER.length()))), tok);
    }

    /** Prompt ids of a conversation rendered with the tokenizer's chat template and its generation prompt. */
    public static int[] promptIds(List<Tokenizer.ChatTurn> turns, Tokenizer tok) {
        return withBos(tok.encode(tok.applyChatTemplate(turns, true)), tok);
    }

    /** Response ids followed by eos. */
    public static int[] responseIds(Example e, Tokenizer tok) {
        return concat(tok.encode(responseText(e)), new int[] {tok.eosId()});
    }

    /** {@code ids} with the tokenizer's bos in front, when it has one. */
    public static int[] withBos(int[] ids, Tokenizer tok) {
        return concat(bos(tok), ids);
    }

    /** Tokenises one record, cut at the end to {@code maxLength}. */
    public static Encoded encode(Example e, Tokenizer tok, int maxLength) {
        return encode(e, tok, maxLength, Truncation.KEEP_START);
    }

    /** Tokenises one record, cut to {@code maxLength} as {@code truncation} says. */
    public static Encoded encode(Example e, Tokenizer tok, int maxLength, Truncation truncation) {
        int[] prompt = promptIds(e, tok);
        return join(prompt, responseIds(e, tok), maxLength, truncation, startsWithBos(prompt, tok) ? 1 : 0);
    }

    /**
     * Tokenises one record for a model that may take images ({@code vision} {@code null}: a
     * text-only model), cut at the end to {@code maxLength}.
     *
     * @throws IllegalArgumentException naming the record when it has an image the model cannot
     *     take, or when {@code maxLength} would cut into its image tokens
     */
    public static Encoded encode(Example e, Tokenizer tok, int maxLength, VisionInput vision) {
        Encoded enc = join(promptIds(e, tok, vision), responseIds(e, tok), maxLength, Truncation.KEEP_START);
        if (!e.hasImage()) {
            return enc;
        }
        int tokens = 0;
        for (int id : enc.ids()) {
            tokens += id == vision.imageTokenId() ? 1 : 0;
        }
        if (tokens != vision.tokensPerImage()) {
            throw new IllegalArgumentException("record " + e.id() + ": a maximum length of " + maxLength
                    + " tokens cuts into its image's " + vision.tokensPerImage() + " tokens");
        }
        return new Encoded(enc.ids(), enc.promptLength(), e.image());
    }

    /** {@code prompt} followed by {@code response}, cut at the end to {@code maxLength}. */
    public static Encoded join(int[] prompt, int[] response, int maxLength) {
        return join(prompt, response, maxLength, Truncation.KEEP_START);
    }

    /**
     * {@code prompt} followed by {@code response}, cut to {@code maxLength} as {@code truncation}
     * says; {@link Truncation#KEEP_PROMPT_END} keeps the prompt's last tokens only (these ids carry
     * no tokenizer to say whether the first one is bos: {@link #encode} keeps it).
     */
    public static Encoded join(int[] prompt, int[] response, int maxLength, Truncation truncation) {
        return join(prompt, response, maxLength, truncation, 0);
    }

    /** As {@link #join(int[], int[], int, Truncation)}, always keeping the first {@code head} prompt tokens (bos). */
    private static Encoded join(int[] prompt, int[] response, int maxLength, Truncation truncation, int head) {
        if (maxLength < 1) {
            throw new IllegalArgumentException("max length must be at least 1, got " + maxLength);
        }
        int[] ids = concat(prompt, response);
        if (ids.length <= maxLength) {
            return new Encoded(ids, prompt.length);
        }
        if (truncation == Truncation.KEEP_START) {
            return new Encoded(Arrays.copyOf(ids, maxLength), Math.min(prompt.length, maxLength));
        }
        int keepPrompt = Math.min(prompt.length, Math.max(head + 1, maxLength - response.length));
        int[] cut = concat(Arrays.copyOf(prompt, head),
                Arrays.copyOfRange(prompt, prompt.length - (keepPrompt - head), prompt.length), response);
        return new Encoded(Arrays.copyOf(cut, maxLength), Math.min(keepPrompt, maxLength));
    }

    /** Keeps bos (if the tokenizer has one) and the last tokens of a prompt longer than {@code max}. */
    public static int[] truncatePrompt(int[] ids, int max, Tokenizer tok) {
        if (max < 1) {
            throw new IllegalArgumentException("max prompt length must be at least 1, got " + max);
        }
        if (ids.length <= max) {
            return ids;
        }
        int head = startsWithBos(ids, tok) ? 1 : 0;
        int[] out = new int[max];
        System.arraycopy(ids, 0, out, 0, head);
        System.arraycopy(ids, ids.length - (max - head), out, head, max - head);
        return out;
    }

    /**
     * A right-padded batch: position t holds token t and predicts token t+1, counted when that
     * token is past the prompt; padding positions have attention 0 and loss 0.
     */
    public static TokenBatch batch(List<Encoded> seqs, int padId, NDManager manager) {
        for (Encoded s : seqs) {
            if (s.image() != null) {
                throw new IllegalArgumentException("the batch holds an image (" + s.image()
                        + "); batch it with the model's VisionInput");
            }
        }
        return tokens(seqs, padId, manager);
    }

    /**
     * A right-padded batch as {@link #batch(List, int, NDManager)}, with the images of the rows that
     * have one: their pixel values, in row order, from {@code vision} and each row's image span (the
     * position of its first image token and their number; 0 and 0 for a text-only row). Without
     * images in the batch it is the plain batch, and {@code vision} may be {@code null}.
     *
     * @throws org.distillery.api.model.ImageInputException naming an image file that cannot be read
     */
    public static TokenBatch batch(List<Encoded> seqs, int padId, NDManager manager, VisionInput vision) {
        TokenBatch plain = tokens(seqs, padId, manager);
        List<Path> images = new ArrayList<>();
        int[] spans = new int[seqs.size() * 2];
        for (int i = 0; i < seqs.size(); i++) {
            Encoded s = seqs.get(i);
            if (s.image() == null) {
                continue;
            }
            if (vision == null) {
                throw new IllegalArgumentException("the batch holds an image (" + s.image()
                        + ") but the model has no vision tower");
            }
            images.add(Path.of(s.image()));
            int[] ids = s.ids();
            int start = -1;
            int count = 0;
            for (int t = 0; t < ids.length; t++) {
                if (ids[t] == vision.imageTokenId()) {
                    start = start < 0 ? t : start;
                    count++;
                }
            }
            spans[2 * i] = start;
            spans[2 * i + 1] = count;
        }
        if (images.isEmpty()) {
            return plain;
        }
        NDArray pixels = vision.pixelValues(images, manager);
        return plain.withImages(pixels, manager.create(spans, new Shape(seqs.size(), 2)));
    }

    private static TokenBatch tokens(List<Encoded> seqs, int padId, NDManager manager) {
        int b = seqs.size();
        int len = 1;
        for (Encoded s : seqs) {
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

    /** The parts one after another. */
    public static int[] concat(int[]... parts) {
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

    /**
     * Pixel values of the records' images, in order, for prompts built by
     * {@link #promptIds(Example, Tokenizer, VisionInput)} ({@code null} when none has an image).
     */
    public static NDArray pixelValues(List<Example> records, VisionInput vision, NDManager manager) {
        List<Path> images = new ArrayList<>();
        for (Example e : records) {
            if (e.hasImage()) {
                if (vision == null) {
                    throw new IllegalArgumentException("record " + e.id() + " has an image (" + e.image()
                            + ") but the model has no vision tower");
                }
                images.add(Path.of(e.image()));
            }
        }
        return images.isEmpty() ? null : vision.pixelValues(images, manager);
    }

    private static boolean startsWithBos(int[] ids, Tokenizer tok) {
        return tok.bosId().isPresent() && ids.length > 0 && ids[0] == tok.bosId().getAsInt();
    }

    private static int[] bos(Tokenizer tok) {
        return tok.bosId().isPresent() ? new int[] {tok.bosId().getAsInt()} : new int[0];
    }
}
