package org.distillery.train;

import java.util.concurrent.Callable;
import java.util.function.Supplier;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.InvalidFileException;

/**
 * A contribution (a loss, a sampler, a teacher) that threw during a step. The trainer stops the
 * run with a checkpoint of the state before that step instead of failing it; the message names
 * the contribution (its key, bundle and version, or the teacher's identity such as its URL) and
 * the cause.
 */
final class ContributionFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private ContributionFailure(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * Runs {@code body}; a runtime exception it throws becomes a {@link ContributionFailure} naming
     * {@code who}. Invalid configuration stays what it is (the run fails with exit code 2).
     */
    static <T> T call(Supplier<String> who, Callable<T> body) {
        try {
            return body.call();
        } catch (ContributionFailure | InvalidConfigException e) {
            throw e;
        } catch (Exception e) {
            throw new ContributionFailure(who.get() + " failed: " + describe(e), e);
        }
    }

    /**
     * Invalid input behind the failure (a corrupt record of a dataset or teacher cache, say), if
     * any: after its checkpoint the run fails with it (exit code 2) rather than merely stopping.
     */
    java.util.Optional<InvalidFileException> invalidInput() {
        for (Throwable c = getCause(); c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof InvalidFileException f) {
                return java.util.Optional.of(f);
            }
        }
        return java.util.Optional.empty();
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = e; c != null && sb.length() < 600; c = c.getCause() == c ? null : c.getCause()) {
            if (sb.length() > 0) {
                sb.append(" <- ");
            }
            sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
        }
        return sb.toString();
    }
}
