package org.distillery.spark.jobs;

import java.io.PrintStream;

/** The summaries the jobs print on stdout when they finish. */
public final class Reports {

    private Reports() {
    }

    /** Prints a generation summary. */
    public static void print(GenerateJob.Summary s, String out, PrintStream stdout) {
        GenerateJob.print(s, out, stdout);
    }

    /** Prints a cache summary. */
    public static void print(CacheJob.Summary s, PrintStream stdout) {
        CacheJob.print(s, stdout);
    }

    /** Prints a score or filter summary. */
    public static void print(QualityJob.Summary s, boolean filter, String out, PrintStream stdout) {
        QualityJob.print(s, filter, out, stdout);
    }
}
