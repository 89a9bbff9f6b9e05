package org.distillery.api.train;

import java.nio.file.Path;
import java.util.Map;

/**
 * What a stage leaves behind.
 *
 * @param stepsDone optimisation steps completed
 * @param model the selected model folder (best or last checkpoint), or {@code null}
 * @param metrics final figures, e.g. {@code val.loss}
 * @param stopped true if the stage ended early because the run was stopped
 */
public record StageResult(long stepsDone, Path model, Map<String, Double> metrics, boolean stopped) {
}
