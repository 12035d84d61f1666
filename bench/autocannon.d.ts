// autocannon ships no types; the benchmark uses this much of it.
declare module 'autocannon' {
  interface Options { url: string; connections?: number; duration?: number; pipelining?: number; headers?: Record<string, string> }
  interface Result { requests: { average: number; total: number }; latency: { p99: number }; non2xx: number; errors: number }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
