package org.distillery.serve;

/**
 * Test hook: lets a test make the server answer a request with an error or late, to exercise a
 * client's retries and timeouts. Never set in production ({@code distill serve} has no flag for it).
 */
@FunctionalInterface
public interface FaultHook {

    /**
     * What to do with a request before anything else.
     *
     * @param path the request path, e.g. {@code /v1/completions}
     * @return {@code null} to serve it normally, else the fault
     */
    Fault apply(String path);

    /**
     * A fault.
     *
     * @param status HTTP status to answer with (for example 429 or 503), or 0 to serve normally after the delay
     * @param retryAfterSeconds value of a {@code Retry-After} header, or -1 for none
     * @param delayMillis wait this long first
     */
    record Fault(int status, int retryAfterSeconds, long delayMillis) {
    }
}
