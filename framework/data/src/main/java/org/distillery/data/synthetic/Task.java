package org.distillery.data.synthetic;

/** The task families of the synthetic suite; {@link #key()} is the value of {@code meta.task}. */
public enum Task {
    /** A question about a fact of the world; the response is the exact answer. */
    FACT("fact"),
    /** Addition, subtraction or multiplication of small numbers; the response is the exact result. */
    ARITH("arith"),
    /** Reverse, sort or count letters of a word; the response is the exact result. */
    STRING("string"),
    /** A yes/no question about a fact; {@code meta.label} is {@code yes} or {@code no}. */
    YESNO("yesno"),
    /** An open-ended description of an entity (for Rouge-L and Distinct-4). */
    DESCRIBE("describe");

    private final String key;

    Task(String key) {
        this.key = key;
    }

    /** The name used in {@code meta.task}. */
    public String key() {
        return key;
    }

    /** The task whose key is {@code key}. */
    public static Task of(String key) {
        for (Task t : values()) {
            if (t.key.equals(key)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown task '" + key + "'");
    }
}
