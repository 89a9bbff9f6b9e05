package org.distillery.kit.openai;

/** A request the endpoint refused or that failed after every retry. */
public final class OpenAiException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String code;

    /**
     * Creates it.
     *
     * @param status the last HTTP status, or -1 when no response came (timeout, connection error)
     * @param code OpenAI's {@code error.code} when the endpoint sent one, else {@code null}
     */
    public OpenAiException(int status, String code, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.code = code;
    }

    /** The last HTTP status, or -1 when no response came. */
    public int status() {
        return status;
    }

    /** The endpoint's error code, or {@code null}. */
    public String code() {
        return code;
    }
}
