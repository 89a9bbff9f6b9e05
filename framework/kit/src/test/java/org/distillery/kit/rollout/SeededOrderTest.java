package org.distillery.kit.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

/** Orders derived from a seed and counters: repeatable, a permutation per epoch, different per epoch. */
class SeededOrderTest {

    @Test
    void theStreamVisitsEveryItemOncePerEpochAndRepeatsForTheSameSeed() {
        long seed = SeededOrder.mix(42, 2);
        List<Integer> first = new ArrayList<>();
        List<Integer> second = new ArrayList<>();
        for (long c = 0; c < 10; c++) {
            first.add(SeededOrder.at(10, seed, c));
            second.add(SeededOrder.at(10, seed, 10 + c));
        }
        assertEquals(10, new TreeSet<>(first).size());
        assertEquals(10, new TreeSet<>(second).size());
        assertNotEquals(first, second, "each epoch is reshuffled");
        for (long c = 0; c < 10; c++) {
            assertEquals(first.get((int) c), SeededOrder.at(10, seed, c), "resumable from the cursor alone");
        }
        assertEquals(SeededOrder.shuffled(10, SeededOrder.mix(seed, 0)), first);
    }

    @Test
    void mixSeparatesPurposesAndCounters() {
        assertNotEquals(SeededOrder.mix(1, 2, 3), SeededOrder.mix(1, 3, 2));
        assertNotEquals(SeededOrder.mix(1, 2), SeededOrder.mix(2, 2));
        assertEquals(SeededOrder.mix(1, 2, 3), SeededOrder.mix(1, 2, 3));
        assertThrows(IllegalArgumentException.class, () -> SeededOrder.at(0, 1, 0));
    }
}
