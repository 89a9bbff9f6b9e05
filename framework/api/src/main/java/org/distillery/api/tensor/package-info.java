/**
 * The shared tensor service: the one owner of the DJL engine, its devices and the base
 * NDManager. Plugins obtain managers from a run or a step, never from
 * {@code NDManager.newBaseManager()}.
 */
package org.distillery.api.tensor;
