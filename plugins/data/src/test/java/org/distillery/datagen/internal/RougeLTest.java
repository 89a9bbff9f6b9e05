package org.distillery.datagen.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class RougeLTest {

    @Test
    void goldenValues() {
        assertEquals(1.0, RougeL.f1("What is 2 + 3?", "what is 2 + 3"), 1e-12);
        assertEquals(0.0, RougeL.f1("alpha beta", "gamma delta"), 1e-12);
        // LCS("the cat sat on the mat", "the cat lay on a mat") = the cat on mat = 4; P = 4/6, R = 4/6
        assertEquals(4.0 / 6, RougeL.f1("the cat sat on the mat", "the cat lay on a mat"), 1e-12);
        // LCS = 2 of 2 and 4 tokens: P = 1, R = 0.5, F = 2/3
        assertEquals(2.0 / 3, RougeL.f1("sort letters", "sort the letters please"), 1e-12);
        assertEquals(0.0, RougeL.f1("", "anything"), 1e-12);
        assertEquals(List.of("how", "old", "is", "x1"), RougeL.tokens("How old is X1?"));
    }

    @Test
    void poolKeepsOnlyNovelTexts() {
        RougeL.Pool pool = new RougeL.Pool(0.7);
        pool.add("how old is faran?");
        assertFalse(pool.offer("How old is faran"), "identical up to case and punctuation");
        assertFalse(pool.offer("how old is faran now?"), "ROUGE-L 8/9 >= 0.7");
        assertTrue(pool.offer("sort the letters of takafol."));
        assertFalse(pool.offer("sort the letters of takafol please"), "similar to a kept one");
        assertTrue(pool.offer("what is 12 + 7?"));
        assertTrue(pool.offer("?!"));
        assertFalse(pool.offer(" ?! "), "an exact repeat with no words is a duplicate too");
        assertEquals(4, pool.size());
    }
}
