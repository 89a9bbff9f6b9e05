/**
 * OSGi plumbing: system package exports computed from the class path, the extender that
 * turns bundles' Guice modules into registry services, the registry, and the drop-in watcher.
 */
package org.distillery.kernel.osgi;
