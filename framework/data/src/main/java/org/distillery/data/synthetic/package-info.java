/**
 * The deterministic synthetic task suite of the embedded default: a generated world of
 * people, animals and cities, instruction data about it (facts, yes/no questions,
 * descriptions) plus arithmetic and string transforms, split into train, validation and test,
 * and a plain-text pre-training corpus drawn from the same world; and a reasoning part:
 * multi-digit arithmetic with program-checkable answers, step-by-step traces and an
 * out-of-domain split with more digits.
 *
 * <p>Entry points: {@link org.distillery.data.synthetic.SyntheticSuite#generate} and
 * {@link org.distillery.data.synthetic.ReasoningSuite#generate}.
 */
package org.distillery.data.synthetic;
