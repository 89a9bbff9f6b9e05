/**
 * What a running experiment offers: {@link org.distillery.api.run.RunResources} (manager, seed,
 * event log, kernel services) to every contribution through its kind's context, and
 * {@link org.distillery.api.run.RunContext} (directory, configuration, datasets, operator controls)
 * to trainers.
 */
package org.distillery.api.run;
