package org.distillery.kit.loss;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

/** PPO's clipped surrogate and the targets' log-probabilities of a chunk, against hand values. */
class PpoTest {

    @Test
    void theSurrogateTakesTheWorseOfTheRatioAndItsClip() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ratio = m.create(new float[] {0.5f, 1.1f, 1.5f, 0.5f, 1.5f});
            NDArray adv = m.create(new float[] {1f, 2f, 1f, -1f, -2f});
            // eps 0.2: max(-A r, -A clip(r)): A>0 clips from above, A<0 from below
            // 1: max(-0.5, -0.8) = -0.5; 2: max(-2.2, -2.2); 3: max(-1.5, -1.2) = -1.2;
            // 4: max(0.5, 0.8) = 0.8; 5: max(3.0, 2.4) = 3.0
            float[] got = Ppo.clippedSurrogate(ratio, adv, 0.2).toFloatArray();
            assertArrayEquals(new float[] {-0.5f, -2.2f, -1.2f, 0.8f, 3.0f}, got, 1e-6f);
        }
    }

    @Test
    void targetLogProbsReadEachTargetsEntryWithPaddingClippedIntoTheVocabulary() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = m.create(new float[] {0f, 0f, 0f, 0f, 1f, 2f}, new Shape(1, 2, 3));
            NDArray targets = m.create(new long[] {1, -100}, new Shape(1, 2));
            float[] got = Chunks.targetLogProbs(logits, targets, new NDIndex(":, 0:2"), m).toFloatArray();
            double second = -Math.log(1 + Math.E + Math.exp(2));
            assertArrayEquals(new float[] {(float) -Math.log(3), (float) second}, got, 1e-6f);
        }
    }
}
