package org.distillery.kernel.cli;

import java.util.List;

/**
 * Adds subcommands to {@code distill} from a jar on the launcher's class path, found with
 * {@link java.util.ServiceLoader} (a {@code META-INF/services/org.distillery.kernel.cli.CommandContributor}
 * file). A distribution that leaves the jar out has no such commands (the dashboard and the
 * exports are in the standard distribution, not the minimal one).
 */
public interface CommandContributor {

    /** Picocli command objects (classes annotated with {@code @Command}) to add as subcommands. */
    List<Object> commands();
}
