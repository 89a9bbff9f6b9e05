/**
 * The deterministic synthetic image suite: coloured shapes, counting, spatial relations and
 * bitmap-font digits, with captions and question/answer pairs, for the multimodal family.
 */
package org.distillery.data.synthetic.vision;
