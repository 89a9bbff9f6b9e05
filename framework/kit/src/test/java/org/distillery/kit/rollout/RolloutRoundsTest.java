package org.distillery.kit.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The round / PPO-epoch / micro-batch walk and its resume. */
class RolloutRoundsTest {

    /** Round r holds 5 rollouts whose first id is 10·r + i. */
    private final List<Long> sampled = new ArrayList<>();

    private RolloutBuffer sample(long round) {
        sampled.add(round);
        List<Rollout> rs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            rs.add(Rollout.of(new int[] {(int) (10 * round + i), 99}, 1));
        }
        return new RolloutBuffer(round, rs);
    }

    private static List<Integer> firstIds(List<Rollout> rows) {
        return rows.stream().map(r -> r.ids()[0]).toList();
    }

    @Test
    void eachRoundIsSampledOnceAndServedWholeInEveryEpoch() {
        RolloutRounds rounds = new RolloutRounds("test.sampler", 42, 2);
        List<List<Integer>> epochs = new ArrayList<>();
        List<Integer> epoch = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        for (int step = 0; step < 12; step++) {
            List<Rollout> rows = rounds.next(2, this::sample);
            sizes.add(rows.size());
            epoch.addAll(firstIds(rows));
            if (epoch.size() == 5) {
                epochs.add(epoch);
                epoch = new ArrayList<>();
            }
        }
        assertEquals(List.of(0L, 1L), sampled, "one sampling per round");
        assertEquals(List.of(2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1), sizes, "the last micro-batch of a pass is short");
        assertEquals(4, epochs.size());
        assertEquals(Set.of(0, 1, 2, 3, 4), new HashSet<>(epochs.get(0)));
        assertEquals(Set.of(0, 1, 2, 3, 4), new HashSet<>(epochs.get(1)));
        assertEquals(Set.of(10, 11, 12, 13, 14), new HashSet<>(epochs.get(2)));
        assertTrue(!epochs.get(0).equals(epochs.get(1)) || !epochs.get(2).equals(epochs.get(3)),
                "each pass has its own order");
        assertEquals("2:0:0", rounds.position());
        assertEquals(2, rounds.round());
    }

    @Test
    void aResumeMidBufferServesExactlyWhatTheUninterruptedWalkServes(@TempDir Path dir) throws IOException {
        RolloutRounds straight = new RolloutRounds("test.sampler", 7, 3);
        List<Integer> expected = new ArrayList<>();
        for (int step = 0; step < 20; step++) {
            expected.addAll(firstIds(straight.next(2, this::sample)));
        }
        RolloutRounds first = new RolloutRounds("test.sampler", 7, 3);
        List<Integer> got = new ArrayList<>();
        for (int step = 0; step < 7; step++) {
            got.addAll(firstIds(first.next(2, this::sample)));
        }
        first.save(dir);
        String position = first.position();

        sampled.clear();
        RolloutRounds resumed = new RolloutRounds("test.sampler", 7, 3);
        resumed.seek(position);
        resumed.restore(dir);
        for (int step = 7; step < 20; step++) {
            got.addAll(firstIds(resumed.next(2, this::sample)));
        }
        assertEquals(expected, got);
        assertTrue(!sampled.contains(0L), "the saved round is not sampled again: " + sampled);
    }

    @Test
    void aCheckpointWithoutABufferHoldsNone(@TempDir Path dir) throws IOException {
        RolloutRounds rounds = new RolloutRounds("test.sampler", 1, 1);
        rounds.save(dir);
        rounds.restore(dir);
        assertNull(rounds.buffer());
    }

    @Test
    void aMalformedPositionNamesTheSampler() {
        RolloutRounds rounds = new RolloutRounds("rl.grpo", 1, 1);
        for (String bad : List.of("1:2", "a:b:c", "1:2:3:4")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rounds.seek(bad));
            assertTrue(e.getMessage().contains("rl.grpo") && e.getMessage().contains(bad), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new RolloutRounds("rl.grpo", 1, 0));
    }
}
