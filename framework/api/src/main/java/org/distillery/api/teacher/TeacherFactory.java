package org.distillery.api.teacher;

import com.typesafe.config.Config;

/** Contribution kind {@code teachers}: local, cached or remote teachers. */
public interface TeacherFactory extends org.distillery.api.ContributionFactory {
    /** Opens the teacher with validated parameters. */
    Teacher open(TeacherContext context, Config params);
}
