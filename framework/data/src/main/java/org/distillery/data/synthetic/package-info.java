/**
 * The deterministic synthetic task suite of the embedded default: a generated world of
 * people, animals and cities, instruction data about it (facts, yes/no questions,
 * descriptions) plus arithmetic and string transforms, split into train, validation and test,
 * and a plain-text pre-training corpus drawn from the same world.
 *
 * <p>Entry point: {@link org.distillery.data.synthetic.SyntheticSuite#generate}.
 */
package org.distillery.data.synthetic;
