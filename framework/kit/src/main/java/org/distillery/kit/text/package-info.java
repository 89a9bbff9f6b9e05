/** Text formulas shared by the evaluation metrics and the bundles: ROUGE-L, exact match, distinct n-grams. */
package org.distillery.kit.text;
