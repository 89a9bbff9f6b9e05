/**
 * The multimodal family: LLaVA-KD (MDist on response and visual tokens, RDist, the DPT → SFT → DFT
 * recipe) and VIKDF (an implicit query transformer and bidirectional fusion), with a student
 * initialiser that composes a LLaVA model and an exact-answer accuracy metric.
 */
package org.distillery.multimodal.internal;
