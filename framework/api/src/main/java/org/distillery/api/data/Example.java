package org.distillery.api.data;

import java.util.List;
import java.util.Map;

/**
 * One training or evaluation record. Exactly one shape is filled: a prompt/response pair,
 * a chat conversation, or plain text.
 *
 * @param id a stable identifier, unique within its dataset
 * @param prompt the instruction, or {@code null} for chat and text records
 * @param response the reference response, or {@code null}
 * @param messages a chat conversation, empty otherwise
 * @param text plain text for language modelling, or {@code null}
 * @param meta task family, answer label and other tags (e.g. {@code task=yesno}, {@code label=yes})
 * @param image the record's image file (absolute once read; a JSONL file names it relative to
 *     itself), or {@code null} for a text-only record. Where the image goes in the text is marked
 *     by {@link #IMAGE_PLACEHOLDER} in the prompt or a message; a prompt without the marker has
 *     the image in front ({@code "<image>\n" + prompt}, LLaVA's layout)
 */
public record Example(String id, String prompt, String response, List<Message> messages, String text,
                      Map<String, String> meta, String image) {

    /** The text that marks where a record's image goes (Hugging Face LLaVA processors' {@code <image>}). */
    public static final String IMAGE_PLACEHOLDER = "<image>";

    /** A record without an image. */
    public Example(String id, String prompt, String response, List<Message> messages, String text,
                   Map<String, String> meta) {
        this(id, prompt, response, messages, text, meta, null);
    }

    /** A prompt/response record. */
    public static Example pair(String id, String prompt, String response, Map<String, String> meta) {
        return new Example(id, prompt, response, List.of(), null, Map.copyOf(meta));
    }

    /** A plain-text record. */
    public static Example text(String id, String text) {
        return new Example(id, null, null, List.of(), text, Map.of());
    }

    /** A prompt/response record about an image. */
    public static Example imagePair(String id, String image, String prompt, String response, Map<String, String> meta) {
        return new Example(id, prompt, response, List.of(), null, Map.copyOf(meta), image);
    }

    /** The same record with another image ({@code null}: none). */
    public Example withImage(String file) {
        return new Example(id, prompt, response, messages, text, meta, file);
    }

    /** True when the record has an image. */
    public boolean hasImage() {
        return image != null;
    }

    /** A chat record. */
    public static Example chat(String id, List<Message> messages) {
        return new Example(id, null, null, List.copyOf(messages), null, Map.of());
    }

    /**
     * One chat message.
     *
     * @param role {@code system}, {@code user} or {@code assistant}
     * @param content the text
     */
    public record Message(String role, String content) {
    }
}
