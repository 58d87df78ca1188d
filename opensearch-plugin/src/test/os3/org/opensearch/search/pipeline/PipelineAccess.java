package org.opensearch.search.pipeline;

import java.util.List;
import java.util.Map;

import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.search.SearchResponse;
import org.opensearch.common.metrics.OperationMetrics;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.common.io.stream.NamedWriteableRegistry;

/**
 * Test access (OpenSearch 3) to OpenSearch core's search pipeline code, which is package-private: the
 * vectors and the failure handling are checked through the code a real node runs, not a copy.
 */
public final class PipelineAccess {
    private final Pipeline pipeline;

    private PipelineAccess(Pipeline pipeline) {
        this.pipeline = pipeline;
    }

    /**
     * Builds a pipeline from its configuration map, as {@code PUT /_search/pipeline/<id>} (or an
     * inline pipeline, with {@code PipelineSource.SEARCH_REQUEST}) does.
     */
    public static PipelineAccess create(
        Map<String, Object> config,
        Map<String, Processor.Factory<SearchResponseProcessor>> responseFactories,
        Processor.PipelineSource source
    ) throws Exception {
        return new PipelineAccess(
            PipelineWithMetrics.create(
                "test",
                config,
                Map.of(),
                responseFactories,
                Map.of(),
                new NamedWriteableRegistry(List.of()),
                new OperationMetrics(),
                new OperationMetrics(),
                new Processor.PipelineContext(source)
            )
        );
    }

    /** The pipeline's response processors. */
    public List<SearchResponseProcessor> responseProcessors() {
        return pipeline.getSearchResponseProcessors();
    }

    /** Runs the response processors as core does after a search (ignore_failure included). */
    public void transformResponse(SearchRequest request, SearchResponse response, ActionListener<SearchResponse> listener) {
        // OpenSearch 3 carries the processing context in a PipelinedRequest.
        PipelinedRequest pipelined = new PipelinedRequest(pipeline, request, new PipelineProcessingContext(), null);
        pipeline.transformResponseListener(pipelined, listener).onResponse(response);
    }
}
