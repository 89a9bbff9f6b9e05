package org.distillery.api.model;

import java.util.List;
import java.util.OptionalInt;

/** Turns text into token ids and back. */
public interface Tokenizer {

    /** Ids of {@code text}, without special tokens. */
    int[] encode(String text);

    /** Text of {@code ids}, skipping special tokens. */
    String decode(int[] ids);

    /** Number of ids the tokenizer can produce. */
    int vocabSize();

    /** End-of-sequence id. */
    int eosId();

    /** Padding id, which may equal {@link #eosId()}. */
    int padId();

    /** Beginning-of-sequence id, if the tokenizer has one. */
    OptionalInt bosId();

    /** A stable identity of the vocabulary (name and content hash), recorded by teacher caches. */
    String fingerprint();

    /** Renders a conversation into one prompt string with the tokenizer's chat template. */
    String applyChatTemplate(List<ChatTurn> turns, boolean addGenerationPrompt);

    /**
     * One turn of a conversation.
     *
     * @param role {@code system}, {@code user} or {@code assistant}
     * @param content the text
     */
    record ChatTurn(String role, String content) {
    }
}
