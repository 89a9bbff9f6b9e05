package org.distillery.spark.launch;

import org.apache.spark.launcher.JavaModuleOptions;

/**
 * Prints the JVM options Spark needs on Java 17 ({@code --add-opens ...}), from Spark's own
 * launcher list, so a build or a script starts a Spark JVM with exactly Spark's flags.
 */
public final class ModuleOptions {

    private ModuleOptions() {
    }

    /** Prints the options on one line. */
    public static void main(String[] args) {
        System.out.print(JavaModuleOptions.defaultModuleOptions());
    }
}
