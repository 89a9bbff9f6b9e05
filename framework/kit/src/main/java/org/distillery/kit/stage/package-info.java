/**
 * Building a method's stages: {@link org.distillery.kit.stage.Stages} lays {@code train}-shaped
 * parameters over a {@link org.distillery.api.train.KdStage} and adds the closing evaluation.
 */
package org.distillery.kit.stage;
