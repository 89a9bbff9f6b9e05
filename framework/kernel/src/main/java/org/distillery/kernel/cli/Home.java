package org.distillery.kernel.cli;

import java.nio.file.Path;

/** Where the distribution is: {@code -Ddistill.home}, else {@code $DISTILL_HOME}, else the working folder. */
final class Home {

    private Home() {
    }

    static Path get() {
        String p = System.getProperty("distill.home");
        if (p == null || p.isBlank()) {
            p = System.getenv("DISTILL_HOME");
        }
        return Path.of(p == null || p.isBlank() ? "." : p).toAbsolutePath().normalize();
    }
}
