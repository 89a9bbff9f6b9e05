/**
 * The Distillery extension API: contribution kinds, the registry through which runs find
 * contributions by key, and the exception a contribution throws for bad configuration.
 *
 * <p>A method bundle names a Guice module in its manifest header {@link
 * org.distillery.api.ContributionKind#MODULE_HEADER}; the module binds its contributions
 * with {@code MapBinder<String, F>} where {@code F} is the factory type of a kind (for
 * example {@link org.distillery.api.loss.LossFactory}). The kernel builds the injector,
 * reads the maps and publishes every entry as an OSGi service keyed by name.
 */
package org.distillery.api;
