package org.distillery.models;

import ai.djl.ndarray.*;
import ai.djl.ndarray.types.*;
import org.junit.jupiter.api.Test;

class ScratchTest {
    @Test
    void t() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {1.5f, 2.25f});
            String v = System.getenv().getOrDefault("VARIANT", "1");
            NDArray h = a.toType(DataType.FLOAT16, false);
            System.err.println("f16->f32 nocopy " + h.toType(DataType.FLOAT32, false));
            if (v.equals("2")) System.err.println("f16->f32 copy " + h.toType(DataType.FLOAT32, true));
            if (v.equals("3")) System.err.println("f16 dup " + h.duplicate());
            java.nio.ByteBuffer bb = h.toByteBuffer();
            java.nio.ByteBuffer d = java.nio.ByteBuffer.allocateDirect(bb.remaining()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            d.put(bb); d.flip();
            NDArray back = m.create(d, new Shape(2), DataType.FLOAT16);
            if (v.equals("4")) System.err.println("blob f16->f32 nocopy " + back.toType(DataType.FLOAT32, false));
            if (v.equals("5")) System.err.println("blob dup " + back.duplicate().toType(DataType.FLOAT32, false));
            java.nio.ByteBuffer d2 = java.nio.ByteBuffer.allocateDirect(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            d2.putFloat(1.5f).putFloat(2f); d2.flip();
            NDArray f = m.create(d2, new Shape(2), DataType.FLOAT32);
            if (v.equals("6")) System.err.println("blob f32 copy " + f.toType(DataType.FLOAT32, true));
            if (v.equals("7")) System.err.println("blob f32 dup " + f.duplicate());
            if (v.equals("8")) System.err.println("blob f32->f16 " + f.toType(DataType.FLOAT16, false));
        }
    }
}
