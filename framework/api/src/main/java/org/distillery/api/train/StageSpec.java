package org.distillery.api.train;

import com.typesafe.config.Config;

/**
 * One stage of a recipe.
 *
 * @param name the stage name, unique in the run (its checkpoints live under it)
 * @param trainer the registry key of the trainer that runs it
 * @param params the stage's configuration
 */
public record StageSpec(String name, String trainer, Config params) {
}
