package org.distillery.data.synthetic;

import com.google.gson.JsonObject;

/**
 * Settings of the reasoning suite ({@link ReasoningSuite}). Each split is divided evenly among
 * addition, subtraction and multiplication by one digit.
 *
 * @param seed the seed: the same seed gives byte-identical files
 * @param trainSize training problems
 * @param validationSize validation problems
 * @param testSize in-domain test problems
 * @param oodSize out-of-domain test problems
 * @param maxDigits in-domain operands have 1 to {@code maxDigits} digits
 * @param oodDigits out-of-domain problems have one operand of exactly {@code oodDigits} digits
 */
public record ReasoningSettings(long seed, int trainSize, int validationSize, int testSize, int oodSize,
                                int maxDigits, int oodDigits) {

    /** Validates the settings. */
    public ReasoningSettings {
        int ops = ArithmeticTrace.Op.values().length;
        require(trainSize >= ops, "train", trainSize, "at least " + ops + " (one per operation)");
        require(validationSize >= ops, "validation", validationSize, "at least " + ops);
        require(testSize >= ops, "test", testSize, "at least " + ops);
        require(oodSize >= 0, "ood", oodSize, "0 or more");
        require(maxDigits >= 2 && maxDigits <= 8, "max-digits", maxDigits, "between 2 and 8");
        require(oodDigits > maxDigits && oodDigits <= 12, "ood-digits", oodDigits,
                "more than max-digits (" + maxDigits + ") and at most 12");
    }

    /** The embedded default: 4000/200/200 in-domain problems of 1-3 digits, 200 out-of-domain of 4 digits. */
    public static ReasoningSettings defaults() {
        return new ReasoningSettings(4321L, 4000, 200, 200, 200, 3, 4);
    }

    /** These settings with another seed. */
    public ReasoningSettings withSeed(long s) {
        return new ReasoningSettings(s, trainSize, validationSize, testSize, oodSize, maxDigits, oodDigits);
    }

    /** These settings with other split sizes. */
    public ReasoningSettings withSizes(int train, int validation, int test, int ood) {
        return new ReasoningSettings(seed, train, validation, test, ood, maxDigits, oodDigits);
    }

    /** These settings with other digit counts. */
    public ReasoningSettings withDigits(int max, int ood) {
        return new ReasoningSettings(seed, trainSize, validationSize, testSize, oodSize, max, ood);
    }

    /** The settings as written into {@code suite.json}. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("seed", seed);
        o.addProperty("trainSize", trainSize);
        o.addProperty("validationSize", validationSize);
        o.addProperty("testSize", testSize);
        o.addProperty("oodSize", oodSize);
        o.addProperty("maxDigits", maxDigits);
        o.addProperty("oodDigits", oodDigits);
        return o;
    }

    private static void require(boolean ok, String name, long value, String accepted) {
        if (!ok) {
            throw new IllegalArgumentException("reasoning suite settings: " + name + " = " + value
                    + " is invalid; accepted: " + accepted);
        }
    }
}
