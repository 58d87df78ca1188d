package dev.attune.opensearch;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.Test;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.common.xcontent.XContentHelper;
import org.opensearch.core.xcontent.MediaTypeRegistry;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.common.bytes.BytesArray;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.search.pipeline.PipelineAccess;
import org.opensearch.search.pipeline.Processor;
import org.opensearch.search.pipeline.SearchResponseProcessor;

/**
 * The shared vectors {@code plugin-config/vectors/processor-configs.json}, which Attune's Rust
 * {@code ProcessorConfig::from_raw} passes too: each configuration goes through OpenSearch core's
 * own pipeline parsing (as {@code PUT /_search/pipeline} does), so the messages compared are the
 * ones a user sees, core's included.
 */
public class ProcessorConfigVectorsTest {
    static Path vectorsPath() {
        String configured = System.getProperty("attune.vectors");
        return configured != null ? Paths.get(configured) : Paths.get("..", "plugin-config", "vectors", "processor-configs.json");
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> vectors() throws IOException {
        byte[] bytes = Files.readAllBytes(vectorsPath());
        try (
            XContentParser p = JsonXContent.jsonXContent.createParser(
                NamedXContentRegistry.EMPTY,
                DeprecationHandler.THROW_UNSUPPORTED_OPERATION,
                bytes
            )
        ) {
            List<Map<String, Object>> out = new ArrayList<>();
            for (Object o : p.list()) {
                out.add((Map<String, Object>) o);
            }
            return out;
        }
    }

    /** The pipeline body holding one processor, parsed the way the node parses a PUT body. */
    static Map<String, Object> pipeline(Map<String, Object> processorConfig) throws IOException {
        try (XContentBuilder b = JsonXContent.contentBuilder()) {
            b.startObject();
            b.startArray("response_processors");
            b.startObject();
            b.field(ProcessorConfig.TYPE, processorConfig);
            b.endObject();
            b.endArray();
            b.endObject();
            return XContentHelper.convertToMap(BytesReference.bytes(b), false, MediaTypeRegistry.JSON).v2();
        }
    }

    static Map<String, Processor.Factory<SearchResponseProcessor>> factories() {
        AttuneClient client = new AttuneClient(URI.create("http://127.0.0.1:9"), TimeValue.timeValueSeconds(1), null);
        return Map.of(ProcessorConfig.TYPE, new PersonalizedSearchRankingProcessor.Factory(client, null));
    }

    @Test
    @SuppressWarnings("unchecked")
    public void everyVectorGivesTheSameResultAsTheRustSide() throws Exception {
        List<Map<String, Object>> vectors = vectors();
        assertTrue("only " + vectors.size() + " vectors", vectors.size() >= 50);
        Set<String> names = new HashSet<>();
        int valid = 0;
        int invalid = 0;
        for (Map<String, Object> v : vectors) {
            String name = (String) v.get("name");
            assertTrue("duplicate vector name " + name, names.add(name));
            Map<String, Object> config = (Map<String, Object>) v.get("config");
            String expected = (String) v.get("error");
            for (Processor.PipelineSource source : new Processor.PipelineSource[] {
                Processor.PipelineSource.VALIDATE_PIPELINE,
                Processor.PipelineSource.UPDATE_PIPELINE,
                Processor.PipelineSource.SEARCH_REQUEST }) {
                PersonalizedSearchRankingProcessor processor;
                try {
                    PipelineAccess pipeline = PipelineAccess.create(pipeline(config), factories(), source);
                    processor = (PersonalizedSearchRankingProcessor) pipeline.responseProcessors().get(0);
                } catch (Exception e) {
                    if (expected == null) {
                        throw new AssertionError(name + ": expected valid, got " + e, e);
                    }
                    assertEquals(name, expected, e.getMessage());
                    continue;
                }
                if (expected != null) {
                    fail(name + ": expected the error [" + expected + "], got a processor");
                }
                Map<String, Object> n = (Map<String, Object>) v.get("normalized");
                ProcessorConfig c = processor.config();
                assertEquals(name, n.get("campaign_arn"), c.campaignArn());
                assertEquals(name, n.get("item_id_field"), c.itemIdField());
                assertEquals(name, n.get("recipe"), c.recipe());
                assertEquals(name, ((Number) n.get("weight")).doubleValue(), c.weight(), 0.0);
                assertEquals(name, n.get("tag"), processor.getTag());
                assertEquals(name, n.get("description"), processor.getDescription());
                assertEquals(name, n.get("iam_role_arn"), c.iamRoleArn());
                assertEquals(name, n.get("external_account_iam_role_arn"), c.externalAccountIamRoleArn());
                assertEquals(name, n.get("aws_region"), c.awsRegion());
                assertEquals(name, n.get("ignore_failure"), processor.isIgnoreFailure());
            }
            if (expected == null) {
                valid++;
            } else {
                invalid++;
            }
        }
        assertTrue(valid + " valid, " + invalid + " invalid", valid >= 10 && invalid >= 40);
    }

    @Test
    public void theShippedPipelineIsAccepted() throws Exception {
        Path file = vectorsPath().getParent().getParent().resolve("pipelines").resolve("personalized-search-ranking.json");
        Map<String, Object> body = XContentHelper.convertToMap(new BytesArray(Files.readAllBytes(file)), false, MediaTypeRegistry.JSON).v2();
        PipelineAccess pipeline = PipelineAccess.create(body, factories(), Processor.PipelineSource.UPDATE_PIPELINE);
        PersonalizedSearchRankingProcessor p = (PersonalizedSearchRankingProcessor) pipeline.responseProcessors().get(0);
        assertEquals("arn:aws:personalize:local:000000000000:campaign/demo-ranking", p.config().campaignArn());
        assertEquals("item_id", p.config().itemIdField());
        assertEquals(0.3, p.config().weight(), 0.0);
        assertEquals("personalize-processor", p.getTag());
        assertTrue(p.isIgnoreFailure());
        assertNull(p.config().iamRoleArn());
    }

    @Test
    public void rustTextFormatting() {
        assertEquals("2", RustText.display(2.0));
        assertEquals("1.5", RustText.display(1.5));
        assertEquals("0.0000001", RustText.display(1e-7));
        assertEquals("0.30000000000000004", RustText.display(0.1 + 0.2));
        assertEquals("inf", RustText.display(Double.POSITIVE_INFINITY));
        assertEquals("NaN", RustText.display(Double.NaN));
        assertEquals("\"it's \\\"x\\\"\"", RustText.debug("it's \"x\""));
        Map<String, Object> value = new java.util.HashMap<>();
        value.put("b", Map.of());
        value.put("a", java.util.Arrays.asList(1, 2.5, true, null, "s\n"));
        assertEquals("{\"a\":[1,2.5,true,null,\"s\\n\"],\"b\":{}}", ProcessorConfig.jsonText(value));
    }
}
