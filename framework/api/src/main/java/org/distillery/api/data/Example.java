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
 */
public record Example(String id, String prompt, String response, List<Message> messages, String text,
                      Map<String, String> meta) {

    /** A prompt/response record. */
    public static Example pair(String id, String prompt, String response, Map<String, String> meta) {
        return new Example(id, prompt, response, List.of(), null, Map.copyOf(meta));
    }

    /** A plain-text record. */
    public static Example text(String id, String text) {
        return new Example(id, null, null, List.of(), text, Map.of());
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
