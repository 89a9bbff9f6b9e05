/** Experiments: loading HOCON files with includes and overrides, and validating them whole. */
package org.distillery.kernel.config;
