package org.distillery.api.teacher;

import java.nio.file.Path;

import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;

/**
 * What a teacher may use when it is opened.
 *
 * @param resources the run's manager, seed, event log and services
 * @param tokenizer the run's tokenizer (a teacher that is not a local model checks its vocabulary against it)
 * @param tokenizerDir the folder the tokenizer was loaded from, or {@code null} for a built-in one
 * @param maxLength the maximum tokens per sequence of the stage
 * @param sharedDir where a teacher keeps what several runs may share (a response cache): the
 *     folder holding the run directories
 * @param paramsPath where the teacher's parameters were written ({@code teacher.params}), for messages
 */
public record TeacherContext(RunResources resources, Tokenizer tokenizer, Path tokenizerDir, int maxLength,
                             Path sharedDir, String paramsPath) {
}
