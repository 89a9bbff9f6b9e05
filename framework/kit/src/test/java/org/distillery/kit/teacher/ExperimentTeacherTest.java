package org.distillery.kit.teacher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.junit.jupiter.api.Test;

/** Where an experiment's tokenizer comes from, and the checks before a teacher is opened. */
class ExperimentTeacherTest {

    @Test
    void theTokenizerComesFromTheFirstFolderSet() {
        assertEquals(Path.of("/tok"), ExperimentTeacher.tokenizerDir(ConfigFactory.parseString(
                "tokenizer.dir = /tok, teacher.params.model-dir = /teacher, student.model-dir = /student")));
        assertEquals(Path.of("/teacher"), ExperimentTeacher.tokenizerDir(ConfigFactory.parseString(
                "tokenizer.dir = \"\", teacher.params.model-dir = /teacher, student.model-dir = /student")));
        assertEquals(Path.of("/cache-check"), ExperimentTeacher.tokenizerDir(ConfigFactory.parseString(
                "teacher.params.verify-teacher-dir = /cache-check, student.model-dir = /student")));
        assertEquals(Path.of("/student"), ExperimentTeacher.tokenizerDir(ConfigFactory.parseString(
                "student.model-dir = /student")));
        assertNull(ExperimentTeacher.tokenizerDir(ConfigFactory.parseString("tokenizer.dir = \"\"")));
    }

    @Test
    void noTokenizerOrNoTeacherIsSaidPlainly() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> ExperimentTeacher.tokenizer(null, ConfigFactory.parseString("tokenizer.dir = \"\"")));
        assertTrue(e.getMessage().startsWith("tokenizer.dir: no tokenizer"), e.getMessage());
        assertNull(ExperimentTeacher.open(null, ConfigFactory.parseString("teacher { key = \"\", params {} }"), null,
                16, null), "an empty key trains without a teacher");
    }
}
