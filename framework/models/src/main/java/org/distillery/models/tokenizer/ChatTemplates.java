package org.distillery.models.tokenizer;

import java.util.List;

import org.distillery.api.model.Tokenizer.ChatTurn;

/**
 * A plain role-tagged chat template: each turn is {@code turn} with {@code {role}} and
 * {@code {content}} substituted; the generation prompt is appended when asked.
 *
 * @param turn the per-turn pattern
 * @param generationPrompt appended to prompt a reply
 */
public record ChatTemplates(String turn, String generationPrompt) {

    /** The default: {@code <|role|>\ncontent\n}, generation prompt {@code <|assistant|>\n}. */
    public static final ChatTemplates DEFAULT = new ChatTemplates("<|{role}|>\n{content}\n", "<|assistant|>\n");

    /** Renders {@code turns}. */
    public String render(List<ChatTurn> turns, boolean addGenerationPrompt) {
        StringBuilder sb = new StringBuilder();
        for (ChatTurn t : turns) {
            sb.append(turn.replace("{role}", t.role()).replace("{content}", t.content()));
        }
        if (addGenerationPrompt) {
            sb.append(generationPrompt);
        }
        return sb.toString();
    }
}
