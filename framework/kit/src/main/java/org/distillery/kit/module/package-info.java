/**
 * Reading the contributions a bundle's Guice module binds ({@link org.distillery.kit.module.ModuleContributions}),
 * the same way the kernel publishes them: for tests of a bundle and for running contributions outside the kernel.
 */
package org.distillery.kit.module;
