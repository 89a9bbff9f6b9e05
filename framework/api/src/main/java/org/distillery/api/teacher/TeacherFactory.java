package org.distillery.api.teacher;

import com.typesafe.config.Config;

import org.distillery.api.run.RunContext;

/** Contribution kind {@code teachers}: local, cached or remote teachers. */
public interface TeacherFactory {

    /** One-line summary for listings. */
    String description();

    /** Opens the teacher with validated parameters. */
    Teacher open(RunContext run, Config params);
}
