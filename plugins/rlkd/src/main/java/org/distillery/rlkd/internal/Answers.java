package org.distillery.rlkd.internal;

import java.math.BigDecimal;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reading the final answer of a reasoning response, {@code <think>steps</think><answer>result</answer>},
 * and checking it against a reference, the same way for the rewards and the accuracy metric.
 */
final class Answers {

    private static final Pattern ANSWER = Pattern.compile("<answer>(.*?)</answer>", Pattern.DOTALL);
    private static final Pattern WITH_THINK = Pattern.compile(
            "\\s*<think>((?:(?!<think>|</think>|<answer>|</answer>).)*)</think>\\s*<answer>"
                    + "((?:(?!<think>|</think>|<answer>|</answer>).)*)</answer>\\s*", Pattern.DOTALL);
    private static final Pattern ANSWER_ONLY = Pattern.compile(
            "\\s*<answer>((?:(?!<think>|</think>|<answer>|</answer>).)*)</answer>\\s*", Pattern.DOTALL);

    private Answers() {
    }

    /** The trimmed content of the last {@code <answer>…</answer>}, if the response has one. */
    static Optional<String> answer(String response) {
        Matcher m = ANSWER.matcher(response);
        String last = null;
        while (m.find()) {
            last = m.group(1);
        }
        return Optional.ofNullable(last).map(String::trim);
    }

    /**
     * True when the response is {@code <think>…</think><answer>…</answer>} (whitespace around the
     * parts allowed, no tag inside a part), or with {@code requireThink} false also {@code <answer>…</answer>} alone.
     */
    static boolean wellFormed(String response, boolean requireThink) {
        return WITH_THINK.matcher(response).matches() || (!requireThink && ANSWER_ONLY.matcher(response).matches());
    }

    /**
     * True when {@code answer} equals {@code reference}: as numbers when {@code numeric} and both
     * parse as decimal numbers, else as trimmed text.
     */
    static boolean matches(String answer, String reference, boolean numeric) {
        String a = answer.trim();
        String r = reference.trim();
        if (numeric) {
            BigDecimal x = number(a);
            BigDecimal y = number(r);
            if (x != null && y != null) {
                return x.compareTo(y) == 0;
            }
        }
        return a.equals(r);
    }

    /** True when the response's final answer matches the reference ({@link #answer}, {@link #matches}). */
    static boolean correct(String response, String reference, boolean numeric, boolean requireThink) {
        if (requireThink && !wellFormed(response, true)) {
            return false;
        }
        return answer(response).map(a -> matches(a, reference, numeric)).orElse(false);
    }

    private static BigDecimal number(String s) {
        if (!s.matches("[-+]?(\\d+(\\.\\d*)?|\\.\\d+)")) {
            return null;
        }
        return new BigDecimal(s);
    }
}
