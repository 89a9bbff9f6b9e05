package org.distillery.kit.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.Tokenizer;
import org.distillery.kit.data.Records.Encoded;
import org.distillery.kit.data.Records.Truncation;

/** {@link Records} with a character tokenizer, every expected sequence written out by hand. */
class RecordsTest {

    private static final int PAD = 0;
    private static final int BOS = 1;
    private static final int EOS = 2;

    /**
     * Characters as ids: pad 0, bos 1 (when it has one), eos 2, character c as c + 3; its chat
     * template writes each turn as {@code role: content\n} and the generation prompt as {@code assistant: }.
     */
    private record CharTokenizer(boolean hasBos) implements Tokenizer {
        @Override
        public int[] encode(String text) {
            return text.chars().map(c -> c + 3).toArray();
        }

        @Override
        public String decode(int[] ids) {
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                if (id > EOS) {
                    sb.append((char) (id - 3));
                }
            }
            return sb.toString();
        }

        @Override
        public int vocabSize() {
            return 131;
        }

        @Override
        public int eosId() {
            return EOS;
        }

        @Override
        public int padId() {
            return PAD;
        }

        @Override
        public OptionalInt bosId() {
            return hasBos ? OptionalInt.of(BOS) : OptionalInt.empty();
        }

        @Override
        public String fingerprint() {
            return "chars";
        }

        @Override
        public String applyChatTemplate(List<ChatTurn> turns, boolean addGenerationPrompt) {
            StringBuilder sb = new StringBuilder();
            for (ChatTurn t : turns) {
                sb.append(t.role()).append(": ").append(t.content()).append('\n');
            }
            return addGenerationPrompt ? sb.append("assistant: ").toString() : sb.toString();
        }
    }

    private static final Tokenizer TOK = new CharTokenizer(true);
    private static final Tokenizer NO_BOS = new CharTokenizer(false);

    private static NDManager manager;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    private static int[] ids(String text) {
        return TOK.encode(text);
    }

    private static int[] seq(Object... parts) {
        int[][] arrays = new int[parts.length][];
        for (int i = 0; i < parts.length; i++) {
            arrays[i] = parts[i] instanceof String s ? ids(s) : new int[] {(Integer) parts[i]};
        }
        return Records.concat(arrays);
    }

    private static Example chat(String... roleContent) {
        Example.Message[] messages = new Example.Message[roleContent.length / 2];
        for (int i = 0; i < messages.length; i++) {
            messages[i] = new Example.Message(roleContent[2 * i], roleContent[2 * i + 1]);
        }
        return Example.chat("c", List.of(messages));
    }

    @Test
    void aPairIsBosPromptNewlineResponseEos() {
        Example e = Example.pair("p", "ab", "cd", Map.of());
        Encoded enc = Records.encode(e, TOK, 100);
        assertArrayEquals(seq(BOS, "ab\ncd", EOS), enc.ids());
        assertEquals(4, enc.promptLength());
        assertArrayEquals(seq(BOS, "ab\n"), enc.prompt());
        assertArrayEquals(seq("cd", EOS), enc.response());
        assertTrue(Records.hasPrompt(e));
        assertTrue(Records.hasReference(e));
        assertEquals("ab\n", Records.promptText(e, TOK));
        assertEquals("cd", Records.responseText(e));

        Encoded noBos = Records.encode(e, NO_BOS, 100);
        assertArrayEquals(seq("ab\ncd", EOS), noBos.ids());
        assertEquals(3, noBos.promptLength());
    }

    @Test
    void aPairWithoutResponseHasOnlyEosToPredict() {
        Example e = Example.pair("p", "ab", null, Map.of());
        Encoded enc = Records.encode(e, TOK, 100);
        assertArrayEquals(seq(BOS, "ab\n", EOS), enc.ids());
        assertEquals(4, enc.promptLength());
        assertTrue(Records.hasPrompt(e));
        assertFalse(Records.hasReference(e));
        assertEquals("", Records.responseText(e));
        assertArrayEquals(new int[] {EOS}, Records.responseIds(e, TOK));
    }

    @Test
    void aChatEndingWithTheAssistantIsItsTemplateThenThatTurn() {
        Example e = chat("system", "be brief", "user", "hi", "assistant", "hello");
        String prompt = "system: be brief\nuser: hi\nassistant: ";
        assertEquals(prompt, Records.promptText(e, TOK));
        assertEquals("hello", Records.responseText(e));
        assertTrue(Records.hasPrompt(e));
        assertTrue(Records.hasReference(e));
        Encoded enc = Records.encode(e, TOK, 1000);
        assertArrayEquals(seq(BOS, prompt, "hello", EOS), enc.ids());
        assertEquals(1 + prompt.length(), enc.promptLength());
        assertArrayEquals(seq(BOS, prompt), Records.promptIds(List.of(new Tokenizer.ChatTurn("system", "be brief"),
                new Tokenizer.ChatTurn("user", "hi")), TOK), "the same prompt from turns");
    }

    @Test
    void aChatNotEndingWithTheAssistantHasAnEmptyResponse() {
        Example e = chat("user", "hi", "assistant", "hello", "user", "more");
        String prompt = "user: hi\nassistant: hello\nuser: more\nassistant: ";
        assertEquals(prompt, Records.promptText(e, TOK), "every turn is prompt");
        assertEquals("", Records.responseText(e));
        assertTrue(Records.hasPrompt(e));
        assertFalse(Records.hasReference(e));
        Encoded enc = Records.encode(e, TOK, 1000);
        assertArrayEquals(seq(BOS, prompt, EOS), enc.ids());
        assertEquals(1 + prompt.length(), enc.promptLength());
    }

    @Test
    void aTextRecordIsAllLossAndHasNoPrompt() {
        Example e = Example.text("t", "xyz");
        assertFalse(Records.hasPrompt(e));
        assertFalse(Records.hasReference(e));
        assertEquals("", Records.promptText(e, TOK));
        assertEquals("xyz", Records.responseText(e));
        Encoded enc = Records.encode(e, TOK, 100);
        assertArrayEquals(seq(BOS, "xyz", EOS), enc.ids());
        assertEquals(1, enc.promptLength(), "only bos before the first counted token");
        Encoded noBos = Records.encode(e, NO_BOS, 100);
        assertArrayEquals(seq("xyz", EOS), noBos.ids());
        assertEquals(0, noBos.promptLength());

        Example empty = new Example("e", null, null, List.of(), null, Map.of());
        assertFalse(Records.hasPrompt(empty));
        assertFalse(Records.hasReference(empty));
        assertEquals("", Records.promptText(empty, TOK));
        assertEquals("", Records.responseText(empty));
    }

    @Test
    void keepStartCutsTheEndAtEveryBoundary() {
        Example e = Example.pair("p", "ab", "cd", Map.of());
        int[] full = seq(BOS, "ab\ncd", EOS);   // 7 ids, 4 of them prompt
        assertEquals(7, full.length);
        for (int max = 1; max <= 9; max++) {
            Encoded enc = Records.encode(e, TOK, max);
            int n = Math.min(max, full.length);
            assertArrayEquals(java.util.Arrays.copyOf(full, n), enc.ids(), "max " + max);
            assertEquals(Math.min(4, max), enc.promptLength(), "max " + max);
            Encoded explicit = Records.encode(e, TOK, max, Truncation.KEEP_START);
            assertArrayEquals(enc.ids(), explicit.ids());
            assertEquals(enc.promptLength(), explicit.promptLength());
        }
        assertSame(IllegalArgumentException.class,
                assertThrows(IllegalArgumentException.class, () -> Records.encode(e, TOK, 0)).getClass());
        assertThrows(IllegalArgumentException.class, () -> Records.join(new int[] {1}, new int[] {2}, 0));
    }

    @Test
    void keepPromptEndKeepsBosAndTheEndOfTheLongPrompt() {
        Example e = Example.pair("p", "abcdef", "xy", Map.of());
        // prompt: bos a b c d e f \n (8), response: x y eos (3)
        assertArrayEquals(seq(BOS, "abcdef\nxy", EOS), Records.encode(e, TOK, 11, Truncation.KEEP_PROMPT_END).ids(),
                "fits exactly: unchanged");

        Encoded oneOver = Records.encode(e, TOK, 10, Truncation.KEEP_PROMPT_END);
        assertArrayEquals(seq(BOS, "bcdef\nxy", EOS), oneOver.ids(), "the first prompt token goes, bos stays");
        assertEquals(7, oneOver.promptLength());

        Encoded tight = Records.encode(e, TOK, 5, Truncation.KEEP_PROMPT_END);
        assertArrayEquals(seq(BOS, "\nxy", EOS), tight.ids());
        assertEquals(2, tight.promptLength());

        Encoded noRoom = Records.encode(e, TOK, 3, Truncation.KEEP_PROMPT_END);
        assertArrayEquals(seq(BOS, "\nx"), noRoom.ids(), "bos and the last prompt token, then the response start");
        assertEquals(2, noRoom.promptLength());

        Encoded one = Records.encode(e, TOK, 1, Truncation.KEEP_PROMPT_END);
        assertArrayEquals(new int[] {BOS}, one.ids());
        assertEquals(1, one.promptLength());

        Encoded withoutBos = Records.encode(e, NO_BOS, 6, Truncation.KEEP_PROMPT_END);
        assertArrayEquals(seq("ef\nxy", EOS), withoutBos.ids(), "no bos: only the end of the prompt");
        assertEquals(3, withoutBos.promptLength());

        // the response comes first: a response longer than the room leaves bos and one prompt token
        Example longResponse = Example.pair("p", "a", "uvwxyz", Map.of());
        Encoded cut = Records.encode(longResponse, TOK, 6, Truncation.KEEP_PROMPT_END);
        assertArrayEquals(seq(BOS, "\nuvwx"), cut.ids());
        assertEquals(2, cut.promptLength());
        Encoded roomy = Records.encode(longResponse, TOK, 9, Truncation.KEEP_PROMPT_END);
        assertArrayEquals(seq(BOS, "\nuvwxyz", EOS), roomy.ids(), "the whole response fits: the prompt gives way");
        assertEquals(2, roomy.promptLength());

        // raw ids carry no tokenizer: join keeps the last prompt tokens only
        Encoded raw = Records.join(new int[] {9, 10, 11, 12}, new int[] {20, 21}, 4, Truncation.KEEP_PROMPT_END);
        assertArrayEquals(new int[] {11, 12, 20, 21}, raw.ids());
        assertEquals(2, raw.promptLength());
        Encoded rawTight = Records.join(new int[] {9, 10, 11, 12}, new int[] {20, 21, 22, 23}, 3,
                Truncation.KEEP_PROMPT_END);
        assertArrayEquals(new int[] {12, 20, 21}, rawTight.ids(), "at least one prompt token");
        assertEquals(1, rawTight.promptLength());
    }

    @Test
    void truncatePromptKeepsBosAndTheLastTokens() {
        int[] prompt = seq(BOS, "abcd");
        assertArrayEquals(seq(BOS, "cd"), Records.truncatePrompt(prompt, 3, TOK));
        assertArrayEquals(new int[] {BOS}, Records.truncatePrompt(prompt, 1, TOK));
        assertSame(prompt, Records.truncatePrompt(prompt, 5, TOK), "short enough: unchanged");
        assertArrayEquals(ids("bcd"), Records.truncatePrompt(ids("abcd"), 3, TOK), "no bos in front: the last tokens");
        assertArrayEquals(ids("cd"), Records.truncatePrompt(seq(BOS, "abcd"), 2, NO_BOS),
                "a tokenizer without bos treats id 1 as any token");
        assertThrows(IllegalArgumentException.class, () -> Records.truncatePrompt(prompt, 0, TOK));
    }

    @Test
    void aBatchIsRightPaddedWithShiftedTargetsAndMasks() {
        List<Encoded> seqs = List.of(
                new Encoded(new int[] {BOS, 10, 11, 12, EOS}, 2),
                new Encoded(new int[] {BOS, 20, EOS}, 1),
                new Encoded(new int[] {30, 31, EOS}, 0),
                new Encoded(new int[] {BOS, 40, 41}, 2),
                new Encoded(new int[] {BOS}, 1));
        TokenBatch b = Records.batch(seqs, PAD, manager);
        Shape shape = new Shape(5, 4);
        assertEquals(shape, b.inputIds().getShape());
        assertEquals(shape, b.targets().getShape());
        assertEquals(shape, b.attentionMask().getShape());
        assertEquals(shape, b.lossMask().getShape());
        assertEquals(DataType.INT64, b.inputIds().getDataType());
        assertEquals(DataType.INT64, b.targets().getDataType());
        assertEquals(DataType.FLOAT32, b.attentionMask().getDataType());
        assertEquals(DataType.FLOAT32, b.lossMask().getDataType());
        assertEquals(DataType.INT32, b.promptLengths().getDataType());
        assertArrayEquals(new long[] {
            BOS, 10, 11, 12,
            BOS, 20, PAD, PAD,
            30, 31, PAD, PAD,
            BOS, 40, PAD, PAD,
            PAD, PAD, PAD, PAD}, b.inputIds().toLongArray());
        assertArrayEquals(new long[] {
            10, 11, 12, EOS,
            20, EOS, PAD, PAD,
            31, EOS, PAD, PAD,
            40, 41, PAD, PAD,
            PAD, PAD, PAD, PAD}, b.targets().toLongArray());
        assertArrayEquals(new float[] {
            1, 1, 1, 1,
            1, 1, 0, 0,
            1, 1, 0, 0,
            1, 1, 0, 0,
            0, 0, 0, 0}, b.attentionMask().toFloatArray());
        assertArrayEquals(new float[] {
            0, 1, 1, 1,     // tokens 2.. are past the 2-token prompt
            1, 1, 0, 0,     // after bos everything counts
            1, 1, 0, 0,     // no prompt: every prediction counts
            0, 1, 0, 0,     // token 2 (41) is the first past the 2-token prompt
            0, 0, 0, 0}, b.lossMask().toFloatArray());
        assertArrayEquals(new int[] {2, 1, 0, 2, 1}, b.promptLengths().toIntArray());
        assertEquals(8, b.lossTokens());
        assertTrue(b.extras().isEmpty());

        TokenBatch tiny = Records.batch(List.of(new Encoded(new int[] {BOS}, 1)), 7, manager);
        assertEquals(new Shape(1, 1), tiny.inputIds().getShape(), "at least one position");
        assertArrayEquals(new long[] {7}, tiny.inputIds().toLongArray());
        assertArrayEquals(new float[] {0}, tiny.attentionMask().toFloatArray());
    }

    @Test
    void encodedRecordsBatchAsTheTrainerReadsThem() {
        List<Encoded> seqs = List.of(Records.encode(Example.pair("1", "a", "bc", Map.of()), TOK, 100),
                Records.encode(Example.text("2", "z"), TOK, 100));
        TokenBatch b = Records.batch(seqs, TOK.padId(), manager);
        // pair: bos a \n b c eos -> predictions of b, c, eos count; text: bos z eos -> z and eos count
        assertArrayEquals(new float[] {0, 0, 1, 1, 1, 1, 1, 0, 0, 0}, b.lossMask().toFloatArray());
    }

    @Test
    void withBosAndConcat() {
        assertArrayEquals(new int[] {BOS, 5, 6}, Records.withBos(new int[] {5, 6}, TOK));
        assertArrayEquals(new int[] {5, 6}, Records.withBos(new int[] {5, 6}, NO_BOS));
        assertArrayEquals(new int[] {BOS}, Records.withBos(new int[0], TOK));
        assertArrayEquals(new int[] {1, 2, 3, 4}, Records.concat(new int[] {1}, new int[0], new int[] {2, 3},
                new int[] {4}));
        assertArrayEquals(new int[0], Records.concat());
        assertArrayEquals(seq(BOS, "ab\n"), Records.promptIds(Example.pair("p", "ab", "c", Map.of()), TOK));
        assertArrayEquals(seq("c", EOS), Records.responseIds(Example.pair("p", "ab", "c", Map.of()), TOK));
        assertEquals("\n", Records.PROMPT_SUFFIX);
    }
}
