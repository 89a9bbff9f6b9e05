package org.distillery.kernel.osgi;

import java.util.ArrayList;
import java.util.List;

import org.osgi.framework.Bundle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Bundles that failed to install, resolve, start or publish, with the reason; the kernel goes on. */
public final class BundleProblems {

    private static final Logger LOG = LoggerFactory.getLogger(BundleProblems.class);

    /**
     * One failure.
     *
     * @param bundle symbolic name or file of the bundle
     * @param phase {@code install}, {@code start}, {@code contributions}, {@code update} or {@code uninstall}
     * @param reason the cause, one line
     */
    public record Problem(String bundle, String phase, String reason) {
    }

    /** The phase of faults seen when a bundle stopped (a hanging stop, leaked threads). */
    public static final String STOP = "stop";

    private final List<Problem> problems = new ArrayList<>();

    /** Records and logs a failure. */
    public synchronized void report(String bundle, String phase, Throwable cause) {
        String reason = describe(cause);
        problems.add(new Problem(bundle, phase, reason));
        LOG.error("bundle {} failed at {}: {}", bundle, phase, reason);
    }

    /**
     * Forgets earlier failures of a bundle (it was updated or removed). Faults at {@link #STOP}
     * stay: a hanging stop or a leaked thread of an old version lives on in the process.
     */
    public synchronized void clear(String bundle) {
        problems.removeIf(p -> p.bundle().equals(bundle) && !p.phase().equals(STOP));
    }

    /** All recorded failures. */
    public synchronized List<Problem> all() {
        return List.copyOf(problems);
    }

    /** A name for a bundle in messages: symbolic name, else location. */
    public static String nameOf(Bundle b) {
        return b.getSymbolicName() != null ? b.getSymbolicName() : b.getLocation();
    }

    /** The cause chain in one line, innermost cause last. */
    public static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null && sb.length() < 800; c = c.getCause()) {
            if (sb.length() > 0) {
                sb.append(" <- ");
            }
            sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
            if (c.getCause() == c) {
                break;
            }
        }
        return sb.toString();
    }
}
