package org.distillery.api.train;

import com.typesafe.config.Config;

/**
 * A stage of a trainer that reads its own parameters (for example {@code eval.report} or
 * {@code data.generate}); the trainer checks them against its defaults.
 *
 * @param name the stage name, unique in the run (its checkpoints live under it)
 * @param trainer the registry key of the trainer that runs it
 * @param params the stage's parameters
 */
public record StageSpec(String name, String trainer, Config params) implements Stage {
}
