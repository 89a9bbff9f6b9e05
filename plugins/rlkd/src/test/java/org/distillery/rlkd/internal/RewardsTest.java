package org.distillery.rlkd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Completion;
import org.distillery.api.reward.RewardValue;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The rewards, the answer parsing they share with rl.accuracy, and how a weighted set combines them. */
class RewardsTest {

    private static TestRun run;
    private static Tokenizer tok;

    @BeforeAll
    static void setUp() throws Exception {
        run = TestRun.bare();
        tok = new ByteTokenizer();
    }

    @AfterAll
    static void tearDown() {
        run.close();
    }

    private static Completion completion(String answer, String response) {
        Example e = Example.pair("r1", "2 + 3 = ?", "", answer == null ? Map.of() : Map.of("answer", answer));
        return new Completion(e, tok.encode("2 + 3 = ?\n"), tok.encode(response), response);
    }

    private static RewardSet rewards(String list) {
        Params p = Params.of(ConfigFactory.parseString("rewards = " + list), "train.sampler.params");
        return RewardSet.open(RewardSet.specs(p, "rewards", false), run, tok, null);
    }

    @Test
    void theFinalAnswerIsTheLastAnswerTagAndFormatErrorsAreWrong() {
        assertEquals(Optional.of("5"), Answers.answer("<think>2+3=5 5</think><answer> 5 </answer>"));
        assertEquals(Optional.of("7"), Answers.answer("<answer>5</answer> no, <answer>7</answer>"));
        assertEquals(Optional.empty(), Answers.answer("<think>2+3=5</think>5"));
        assertTrue(Answers.correct("<think>x</think><answer>0005</answer>", "5", true, true));
        assertFalse(Answers.correct("<think>x</think><answer>0005</answer>", "5", false, true));
        assertFalse(Answers.correct("<answer>5</answer>", "5", true, true), "require-think wants the think part");
        assertTrue(Answers.correct("<answer>5</answer>", "5", true, false));
        assertFalse(Answers.correct("5", "5", true, false), "no tags: a format error");
        assertTrue(Answers.wellFormed(" <think>a</think>\n<answer>b</answer> ", true));
        assertFalse(Answers.wellFormed("<think>a<answer>b</answer></think><answer>b</answer>", true));
        assertFalse(Answers.wellFormed("<answer>b</answer>", true));
        assertTrue(Answers.wellFormed("<answer>b</answer>", false));
    }

    @Test
    void exactAnswerAndFormatScoreAndJudgeCorrectness() {
        try (RewardSet set = rewards("[ { key = reward.exact-answer }, { key = reward.format, weight = 0.1 } ]");
             NDManager m = run.manager().newSubManager()) {
            List<RewardSet.Scored> s = set.score(List.of(
                    completion("5", "<think>2+3=5 5</think><answer>5</answer>"),
                    completion("5", "<think>2+3=6 6</think><answer>6</answer>"),
                    completion("5", "<answer>5</answer>"),
                    completion("5", "five")), m);
            assertEquals(1.1, s.get(0).total(), 1e-9);
            assertEquals(RewardValue.Verdict.CORRECT, s.get(0).verdict());
            assertEquals(0.1, s.get(1).total(), 1e-9);
            assertEquals(RewardValue.Verdict.WRONG, s.get(1).verdict());
            assertEquals(1.0, s.get(2).total(), 1e-9, "right answer, no think part: no format reward");
            assertEquals(0.0, s.get(3).total(), 1e-9);
            assertEquals(0.0, s.get(3).correct());
            assertArrayEquals(new double[] {1.0, 1.0}, s.get(0).values(), 1e-9);
            // whole-response rewards land on the last token
            float[] tokens = s.get(0).tokenRewards();
            assertEquals(1.1f, tokens[tokens.length - 1], 1e-6f);
            assertEquals(0f, tokens[0], 0f);
        }
    }

    @Test
    void aRecordWithoutItsReferenceAnswerNamesTheParameter() {
        try (RewardSet set = rewards("[ { key = reward.exact-answer } ]");
             NDManager m = run.manager().newSubManager()) {
            InvalidConfigException e = assertThrows(InvalidConfigException.class,
                    () -> set.score(List.of(completion(null, "<answer>5</answer>")), m));
            assertTrue(e.getMessage().startsWith("train.sampler.params.rewards[0].params.answer-key: record r1"),
                    e.getMessage());
        }
    }

    @Test
    void badRewardListsFailAtTheirPath() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> rewards("[ { key = reward.exact-anwser } ]"));
        assertTrue(e.getMessage().startsWith("train.sampler.params.rewards[0].key: no registered rewards named"),
                e.getMessage());
        assertTrue(e.getMessage().contains("reward.exact-answer"), e.getMessage());
        e = assertThrows(InvalidConfigException.class,
                () -> rewards("[ { key = reward.format, params { requires-think = true } } ]"));
        assertTrue(e.getMessage().startsWith("train.sampler.params.rewards[0].params.requires-think: unknown key"),
                e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> rewards("[ { key = reward.format, wieght = 2 } ]"));
        assertTrue(e.getMessage().startsWith("train.sampler.params.rewards[0].wieght"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> rewards("[]"));
        assertTrue(e.getMessage().contains("needs at least one reward"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> rewards("[ { key = reward.llmr } ]"));
        assertTrue(e.getMessage().startsWith("teacher.key"), e.getMessage());
    }

    @Test
    void llmrRewardReadsTheTeachersLogitsAtTheRightPositionsAndAveragesTemplates() {
        // a teacher whose logits depend only on the input token at each position: z[v] = ((id * 7 + v * 3) mod 11) / 3
        int vocab = 259;
        Teacher fake = new Teacher() {
            @Override
            public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
                long[] ids = batch.inputIds().toLongArray();
                long b = batch.inputIds().getShape().get(0);
                long t = batch.inputIds().getShape().get(1);
                float[] z = new float[(int) (b * t * vocab)];
                for (int i = 0; i < ids.length; i++) {
                    for (int v = 0; v < vocab; v++) {
                        z[i * vocab + v] = ((ids[i] * 7 + v * 3) % 11) / 3f;
                    }
                }
                NDArray logits = manager.create(z, new Shape(b, t, vocab));
                return new TeacherOutput(logits, null, null, null, List.of());
            }

            @Override
            public Optional<LanguageModel> model() {
                return Optional.empty();
            }

            @Override
            public String identity() {
                return "fake";
            }

            @Override
            public void close() {
            }
        };
        Completion c = completion("5", "<answer>5</answer>");
        int[] response = org.distillery.kit.data.Records.concat(c.responseIds(), new int[] {tok.eosId()});
        c = new Completion(c.example(), c.promptIds(), response, c.response());
        try (NDManager m = run.manager().newSubManager()) {
            RewardValue one = new LlmrReward(fake, tok, List.of("{prompt}"), LlmrMath.Value.EXPECTATION, 0, 4)
                    .score(List.of(c), m).get(0);
            // by hand from the same table: the state before response token j is the input token at p - 1 + j
            int[] all = org.distillery.kit.data.Records.concat(c.promptIds(), response);
            float[][] rows = new float[response.length + 1][vocab];
            for (int j = 0; j <= response.length; j++) {
                long id = all[c.promptIds().length - 1 + j];
                for (int v = 0; v < vocab; v++) {
                    rows[j][v] = ((id * 7 + v * 3) % 11) / 3f;
                }
            }
            float[] expected = LlmrMath.rewards(rows, response, true, LlmrMath.Value.EXPECTATION, 0);
            assertArrayEquals(expected, one.tokenRewards(), 1e-5f);
            assertEquals(0f, one.tokenRewards()[response.length - 1] - (float) LlmrMath.centred(rows[response.length - 1],
                    tok.eosId()), 1e-5f, "eos: V = 0 after it");
            // two identical templates average to the same rewards
            RewardValue two = new LlmrReward(fake, tok, List.of("{prompt}", "{prompt}"), LlmrMath.Value.EXPECTATION, 0,
                    4).score(List.of(c), m).get(0);
            assertArrayEquals(one.tokenRewards(), two.tokenRewards(), 1e-6f);
        }
    }

    @Test
    void theRegistryListsTheFourRewards() {
        assertEquals(List.of("reward.exact-answer", "reward.format", "reward.judge", "reward.llmr"),
                run.registry().list(ContributionKind.REWARD).stream().map(i -> i.key()).sorted().toList());
    }
}
