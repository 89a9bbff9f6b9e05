package org.distillery.data.synthetic;

import com.google.gson.JsonObject;

/**
 * Settings of the synthetic suite. Split sizes count examples of all tasks together; each
 * split is divided evenly among the {@link Task}s.
 *
 * @param seed the seed: the same seed gives byte-identical output, another seed another world
 * @param entities number of entities in the world (about half people, a quarter each animals and cities)
 * @param trainSize number of training examples
 * @param validationSize number of validation examples
 * @param testSize number of test examples
 * @param corpusSize number of plain-text records in the pre-training corpus
 * @param maxDigits largest number of digits of an arithmetic operand
 */
public record SuiteSettings(long seed, int entities, int trainSize, int validationSize, int testSize,
                            int corpusSize, int maxDigits) {

    /** Validates the settings. */
    public SuiteSettings {
        int tasks = Task.values().length;
        require(entities >= 8 && entities <= 100_000, "entities", entities, "between 8 and 100000");
        require(trainSize >= tasks, "trainSize", trainSize, "at least " + tasks + " (one per task)");
        require(validationSize >= tasks, "validationSize", validationSize, "at least " + tasks + " (one per task)");
        require(testSize >= tasks, "testSize", testSize, "at least " + tasks + " (one per task)");
        require(corpusSize >= 0, "corpusSize", corpusSize, "0 or more");
        require(maxDigits >= 1 && maxDigits <= 6, "maxDigits", maxDigits, "between 1 and 6");
    }

    /** The defaults of the embedded default: 80 entities, 2000/200/200 examples, 2000 corpus records. */
    public static SuiteSettings defaults() {
        return new SuiteSettings(1234L, 80, 2000, 200, 200, 2000, 3);
    }

    /** These settings with another seed. */
    public SuiteSettings withSeed(long newSeed) {
        return new SuiteSettings(newSeed, entities, trainSize, validationSize, testSize, corpusSize, maxDigits);
    }

    /** These settings with other split sizes. */
    public SuiteSettings withSizes(int train, int validation, int test, int corpus) {
        return new SuiteSettings(seed, entities, train, validation, test, corpus, maxDigits);
    }

    /** These settings with another number of entities. */
    public SuiteSettings withEntities(int newEntities) {
        return new SuiteSettings(seed, newEntities, trainSize, validationSize, testSize, corpusSize, maxDigits);
    }

    /** The settings as the JSON object written into {@code suite.json}. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("seed", seed);
        o.addProperty("entities", entities);
        o.addProperty("trainSize", trainSize);
        o.addProperty("validationSize", validationSize);
        o.addProperty("testSize", testSize);
        o.addProperty("corpusSize", corpusSize);
        o.addProperty("maxDigits", maxDigits);
        return o;
    }

    /** Reads settings written by {@link #toJson()}; every field is required. */
    public static SuiteSettings fromJson(JsonObject o) {
        return new SuiteSettings(field(o, "seed").getAsLong(), field(o, "entities").getAsInt(),
                field(o, "trainSize").getAsInt(), field(o, "validationSize").getAsInt(),
                field(o, "testSize").getAsInt(), field(o, "corpusSize").getAsInt(),
                field(o, "maxDigits").getAsInt());
    }

    private static com.google.gson.JsonPrimitive field(JsonObject o, String name) {
        var el = o.get(name);
        if (el == null || !el.isJsonPrimitive() || !el.getAsJsonPrimitive().isNumber()) {
            throw new IllegalArgumentException("suite settings: '" + name + "' must be a number");
        }
        return el.getAsJsonPrimitive();
    }

    private static void require(boolean ok, String name, long value, String accepted) {
        if (!ok) {
            throw new IllegalArgumentException("suite settings: " + name + " = " + value + " is invalid; accepted: "
                    + accepted);
        }
    }
}
