/**
 * Reading a contribution's parameters: {@link org.distillery.kit.config.Params} checks ranges,
 * choices, templates, loss-term lists and {@code {key, params}} nodes, failing with the config path,
 * the value and what is accepted.
 */
package org.distillery.kit.config;
