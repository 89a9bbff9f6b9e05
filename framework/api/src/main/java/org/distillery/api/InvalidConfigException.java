package org.distillery.api;

/**
 * A configuration value that cannot be used. The kernel reports it with exit code 2 as
 * {@code <path>: <problem> (got <value>; accepted: <accepted>)}.
 */
public class InvalidConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String path;
    private final String value;
    private final String accepted;

    /**
     * Creates the exception.
     *
     * @param path the config path, e.g. {@code train.loss[0].params.temperature}
     * @param problem what is wrong, e.g. {@code must be positive}
     * @param value the offending value as written, or {@code null} if absent
     * @param accepted what would be accepted, or {@code null}
     */
    public InvalidConfigException(String path, String problem, String value, String accepted) {
        super(format(path, problem, value, accepted));
        this.path = path;
        this.value = value;
        this.accepted = accepted;
    }

    private static String format(String path, String problem, String value, String accepted) {
        StringBuilder sb = new StringBuilder(path).append(": ").append(problem);
        if (value != null || accepted != null) {
            sb.append(" (");
            if (value != null) {
                sb.append("got ").append(value);
            }
            if (accepted != null) {
                sb.append(value != null ? "; " : "").append("accepted: ").append(accepted);
            }
            sb.append(')');
        }
        return sb.toString();
    }

    /** The config path of the bad value. */
    public String path() {
        return path;
    }

    /** The bad value as written, or {@code null}. */
    public String value() {
        return value;
    }

    /** What would be accepted, or {@code null}. */
    public String accepted() {
        return accepted;
    }
}
