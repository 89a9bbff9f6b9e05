package org.distillery.models.tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import org.distillery.api.InvalidFileException;
import org.distillery.api.model.Tokenizer;
import org.distillery.models.io.Json;

/**
 * Byte-level tokenizer for the synthetic suite: ids 0..255 are UTF-8 bytes, followed by
 * special tokens (by default {@code <pad>}, {@code <bos>}, {@code <eos>} at 256, 257, 258).
 * Stored as {@code tokenizer_config.json} with {@code tokenizer_class} {@value #CLASS_NAME}.
 */
public final class ByteTokenizer implements Tokenizer {

    /** The {@code tokenizer_class} marker. */
    public static final String CLASS_NAME = "DistilleryByteTokenizer";

    private final List<String> specials;
    private final int padId;
    private final int bosId;
    private final int eosId;
    private final ChatTemplates template;
    private final String fingerprint;

    /** The default byte tokenizer: {@code <pad>}, {@code <bos>}, {@code <eos>}. */
    public ByteTokenizer() {
        this(List.of("<pad>", "<bos>", "<eos>"), "<pad>", "<bos>", "<eos>", ChatTemplates.DEFAULT);
    }

    /**
     * A byte tokenizer with the given special tokens.
     *
     * @param bos may be {@code null}
     */
    public ByteTokenizer(List<String> specials, String pad, String bos, String eos, ChatTemplates template) {
        this.specials = List.copyOf(specials);
        this.eosId = idOf(eos, "eos");
        this.padId = pad == null ? eosId : idOf(pad, "pad");
        this.bosId = bos == null ? -1 : idOf(bos, "bos");
        this.template = template == null ? ChatTemplates.DEFAULT : template;
        this.fingerprint = "byte:" + sha256("byte-level-256\n" + String.join("\n", this.specials));
    }

    private int idOf(String token, String what) {
        int i = specials.indexOf(token);
        if (i < 0) {
            throw new IllegalArgumentException(what + " token '" + token + "' is not among the special tokens " + specials);
        }
        return 256 + i;
    }

    /** Loads the tokenizer described by {@code tokenizer_config.json} of {@code dir}. */
    @SuppressWarnings("unchecked")
    public static ByteTokenizer load(Path dir) throws IOException {
        Path file = dir.resolve("tokenizer_config.json");
        Map<String, Object> m = Json.readMap(file);
        if (!CLASS_NAME.equals(m.get("tokenizer_class"))) {
            throw new InvalidFileException(file, "tokenizer_class is not " + CLASS_NAME);
        }
        try {
            Object sp = m.getOrDefault("special_tokens", List.of("<pad>", "<bos>", "<eos>"));
            List<String> specials = new ArrayList<>();
            for (Object o : (List<Object>) sp) {
                specials.add(String.valueOf(o));
            }
            Map<String, Object> tpl = (Map<String, Object>) m.get("distillery_chat_template");
            ChatTemplates t = tpl == null ? ChatTemplates.DEFAULT
                    : new ChatTemplates(String.valueOf(tpl.get("turn")), String.valueOf(tpl.get("generation_prompt")));
            return new ByteTokenizer(specials, (String) m.get("pad_token"), (String) m.get("bos_token"),
                    (String) m.getOrDefault("eos_token", "<eos>"), t);
        } catch (ClassCastException | IllegalArgumentException e) {
            throw new InvalidFileException(file, "invalid byte tokenizer config: " + e.getMessage(), e);
        }
    }

    /** Writes {@code tokenizer_config.json} into {@code dir}. */
    public void save(Path dir) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokenizer_class", CLASS_NAME);
        m.put("special_tokens", specials);
        m.put("pad_token", specials.get(padId - 256));
        m.put("bos_token", bosId < 0 ? null : specials.get(bosId - 256));
        m.put("eos_token", specials.get(eosId - 256));
        m.put("distillery_chat_template", Map.of("turn", template.turn(), "generation_prompt", template.generationPrompt()));
        Json.writeAtomic(dir.resolve("tokenizer_config.json"), m);
    }

    @Override
    public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = b[i] & 0xFF;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length);
        for (int id : ids) {
            if (id >= 0 && id < 256) {
                out.write(id);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public int vocabSize() {
        return 256 + specials.size();
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public OptionalInt bosId() {
        return bosId < 0 ? OptionalInt.empty() : OptionalInt.of(bosId);
    }

    @Override
    public String fingerprint() {
        return fingerprint;
    }

    @Override
    public String applyChatTemplate(List<ChatTurn> turns, boolean addGenerationPrompt) {
        return template.render(turns, addGenerationPrompt);
    }

    static String sha256(String s) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(md.digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
