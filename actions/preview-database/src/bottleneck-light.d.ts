// bottleneck's light build (no Redis clustering), the one @octokit/plugin-throttling loads, ships
// no declarations of its own: it has the full build's API.
declare module "bottleneck/light.js" {
  import Bottleneck from "bottleneck";
  export default Bottleneck;
}
