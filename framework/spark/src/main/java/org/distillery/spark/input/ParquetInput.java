package org.distillery.spark.input;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import org.distillery.spark.InvalidInputException;

/**
 * Parquet datasets with the JSONL record's columns: {@code id}, {@code prompt}, {@code response},
 * {@code text} (strings), {@code messages} (array of struct {@code role, content}) and {@code meta}
 * (map of strings); other columns are ignored. Each row becomes the JSON object of those fields
 * and is parsed by the same parser as a JSONL line, so the rules are the same; a row's "line" is
 * its 1-based row number in its file, and the default id is {@code <file name>:<row>}.
 */
final class ParquetInput {

    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
    private static final List<String> STRINGS = List.of("id", "prompt", "response", "text");

    private ParquetInput() {
    }

    static JavaRDD<SourceLine> read(SparkSession spark, List<String> paths) {
        Dataset<Row> df = spark.read().parquet(paths.toArray(String[]::new));
        StructType schema = df.schema();
        List<Column> cols = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (StructField f : schema.fields()) {
            String n = f.name();
            if (STRINGS.contains(n)) {
                if (!f.dataType().equals(DataTypes.StringType)) {
                    throw new InvalidInputException(String.join(",", paths) + ": column " + n + " must be a string, "
                            + "found " + f.dataType().simpleString());
                }
            } else if (n.equals("messages")) {
                if (!(f.dataType() instanceof ArrayType a) || !(a.elementType() instanceof StructType st)
                        || !hasString(st, "role") || !hasString(st, "content")) {
                    throw new InvalidInputException(String.join(",", paths) + ": column messages must be an array of "
                            + "struct<role: string, content: string>, found " + f.dataType().simpleString());
                }
            } else if (n.equals("meta")) {
                if (!(f.dataType() instanceof MapType m) || !m.keyType().equals(DataTypes.StringType)
                        || !m.valueType().equals(DataTypes.StringType)) {
                    throw new InvalidInputException(String.join(",", paths) + ": column meta must be a "
                            + "map<string, string>, found " + f.dataType().simpleString());
                }
            } else {
                continue;
            }
            cols.add(functions.col(n));
            names.add(n);
        }
        if (names.isEmpty()) {
            throw new InvalidInputException(String.join(",", paths) + ": no record columns (expected prompt and "
                    + "response, messages, or text; found " + String.join(", ", schema.fieldNames()) + ")");
        }
        cols.add(functions.col("_metadata.file_path").as("_file"));
        cols.add(functions.col("_metadata.row_index").as("_row"));
        Dataset<Row> ordered = df.select(cols.toArray(Column[]::new)).orderBy("_file", "_row");
        List<String> fields = List.copyOf(names);
        return ordered.javaRDD().zipWithIndex().map(t -> toLine(t._1(), t._2(), fields));
    }

    private static boolean hasString(StructType st, String field) {
        for (StructField f : st.fields()) {
            if (f.name().equals(field) && f.dataType().equals(DataTypes.StringType)) {
                return true;
            }
        }
        return false;
    }

    private static SourceLine toLine(Row row, long order, List<String> fields) {
        JsonObject o = new JsonObject();
        for (int i = 0; i < fields.size(); i++) {
            String f = fields.get(i);
            if (row.isNullAt(i)) {
                continue;
            }
            switch (f) {
                case "messages" -> {
                    JsonArray arr = new JsonArray();
                    for (Row m : row.<Row>getList(i)) {
                        JsonObject mo = new JsonObject();
                        mo.addProperty("role", m.isNullAt(m.fieldIndex("role")) ? null : (String) m.getAs("role"));
                        mo.addProperty("content", m.isNullAt(m.fieldIndex("content")) ? null : (String) m.getAs("content"));
                        arr.add(mo);
                    }
                    o.add("messages", arr);
                }
                case "meta" -> {
                    JsonObject meta = new JsonObject();
                    for (Map.Entry<String, String> e : row.<String, String>getJavaMap(i).entrySet()) {
                        meta.addProperty(e.getKey(), e.getValue());
                    }
                    o.add("meta", meta);
                }
                default -> o.addProperty(f, row.getString(i));
            }
        }
        String file = row.getString(fields.size());
        long rowIndex = row.getLong(fields.size() + 1);
        TaskContext tc = TaskContext.get();
        return new SourceLine(order, tc == null ? 0 : tc.partitionId(), file, rowIndex + 1, GSON.toJson(o), null);
    }
}
